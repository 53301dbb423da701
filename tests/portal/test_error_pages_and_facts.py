"""No dead ends and no decision without its facts: the 403, 404 and 500 pages are the
portal's own (its layout, the reader's language, the reason the code gave, a way back); the
pages a decision is taken or read from show what it rests on."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import include, path

from contracts import orders
from contracts import services as contracts
from tests.portal.scenario import World


def _boom(request: Any) -> Any:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _boom), path("", include("config.urls"))]
handler500 = "portal.errors.server_error"




def client(world: World, who: str | None, lang: str) -> Client:
    c = Client(raise_request_exception=False, HTTP_REFERER="http://testserver/catalogue/")
    c.cookies["django_language"] = lang
    if who is not None:
        c.force_login(world.users[who] if who in world.users
                      else get_user_model().objects.get(username=who))
    return c


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def assert_portal_page(text: str) -> None:
    """The portal's layout (its navigation and footer) and a way back."""
    assert 'class="topbar"' in text and "<footer>" in text
    assert 'href="http://testserver/catalogue/"' in text  # back to where the reader was
    assert 'href="/"' in text


@pytest.mark.django_db
@pytest.mark.parametrize(("lang", "reason", "title"), [
    ("en", "no objection 999999", "Not found"),
    ("zh-hans", "没有异议 999999", "未找到"),
])
def test_a_missing_object_gets_the_portal_404_with_the_reason(world: World, lang: str,
                                                               reason: str,
                                                               title: str) -> None:
    response = client(world, "citizen", lang).get("/workflows/objections/999999/")
    assert response.status_code == 404
    text = page(response)
    assert_portal_page(text)
    assert reason in text and title in text
    assert f'<html lang="{lang}">' in text


@pytest.mark.django_db
def test_an_unknown_address_gets_the_portal_404_without_internals(world: World) -> None:
    response = client(world, None, "zh-hans").get("/no/such/page/")
    text = page(response)
    assert response.status_code == 404
    assert_portal_page(text)
    assert "tried" not in text and "URLconf" not in text
    assert "登录" in text  # a way in, for an anonymous visitor


@pytest.mark.django_db
@pytest.mark.parametrize(("lang", "reason"), [
    ("en", "The audit page is for auditors, regulators and the data authority."),
    ("zh-hans", "审计页面"),
])
def test_a_forbidden_page_gets_the_portal_403_with_the_reason(world: World, lang: str,
                                                               reason: str) -> None:
    response = client(world, "provider", lang).get("/audit/")
    assert response.status_code == 403
    text = page(response)
    assert_portal_page(text)
    assert reason in text


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_gets_the_portal_500(world: World) -> None:
    from django.urls import clear_url_caches

    clear_url_caches()
    response = client(world, "citizen", "zh-hans").get("/boom/")
    assert response.status_code == 500
    text = page(response)
    assert "500" in text and 'class="topbar"' in text and "a bug" not in text
    clear_url_caches()


@pytest.mark.django_db
def test_the_objection_page_shows_the_grounds_of_appeal_to_authority_and_filer(
        world: World) -> None:
    objection = world.objections["corrected"]
    contracts.appeal_objection(by=world.users["merchant"], objection=objection,
                               reason="更正后的企业名称仍与营业执照不一致。")
    for who in ("authority", "merchant"):
        text = page(client(world, who, "zh-hans").get(
            f"/workflows/objections/{objection.pk}/"))
        assert "申诉理由" in text and "更正后的企业名称仍与营业执照不一致。" in text, who


@pytest.mark.django_db
def test_a_grant_shows_the_conditions_it_was_approved_with(world: World) -> None:
    grant = world.grants["agreement"]
    text = page(client(world, "operator", "zh-hans").get(f"/workflows/grants/{grant.pk}/"))
    assert "等保三级；数据不出域" in text and "法定代表人姓名掩码" in text


@pytest.mark.django_db
def test_an_order_shows_the_contract_text_the_parties_sign(world: World) -> None:
    order = world.orders["new"]
    text = page(client(world, "merchant", "zh-hans").get(f"/workflows/orders/{order.code}/"))
    assert orders.contract_text(order) in text
    assert orders.contract_sm3(order) in text
    assert order.product.name in text
    assert "1,250.00 CNY" in text  # the amount as people read it (the contract keeps 1250.00)
    product = page(client(world, "merchant", "zh-hans").get(
        f"/catalogue/market/{order.product.code}/"))
    assert "1,250.00 CNY" in product and "1250.00 CNY" not in product


@pytest.mark.django_db
def test_an_old_version_reads_in_words_not_codes(world: World) -> None:
    """A version document keeps codes (``not_shareable``); its page says them in words."""
    resource = world.resources["closed"]
    response = client(world, "provider2", "zh-hans").get(
        f"/catalogue/resources/{resource.code}/versions/1/")
    text = page(response)
    for words in ("重要", "不予共享", "不予开放", "每日", "字符串", "掩码"):
        assert words in text, words
    for code in ("important", "not_shareable", "not_open", "daily", "string", "mask"):
        assert f">{code}<" not in text, code


@pytest.mark.django_db
def test_a_certificate_and_a_reason_box_are_in_the_readers_language(world: World) -> None:
    from django.utils import translation

    from contracts import products
    from kernel.errors import NotPermitted

    product = world.product
    notary = world.users["notary"]
    products.attach_certificate(by=notary, product=product, kind="notarisation",
                                document_name="公证书.pdf", document=b"notarised")
    url = f"/catalogue/market/{product.code}/"
    text = page(client(world, "authority", "zh-hans").get(url))
    assert "数据公证" in text and ">notarisation<" not in text
    assert "理由" in text and ">Reason" not in text  # the delist button's reason box
    english = page(client(world, "authority", "en").get(url))
    assert "data notarisation" in english and ">Reason" in english
    with pytest.raises(NotPermitted) as refused:
        products.attach_certificate(by=notary, product=product, kind="certification",
                                    document_name="认证.pdf", document=b"x")
    with translation.override("zh-hans"):
        assert "数据公证" in refused.value.message and "合规认证" in refused.value.message


@pytest.mark.django_db
def test_a_citizen_reaches_a_conditional_resource_and_objects_to_it(world: World) -> None:
    """Not a dead end: the resource page opens, and its objection form comes filled in."""
    resource = world.resources["conditional"]
    citizen = client(world, "citizen", "zh-hans")
    assert citizen.get(f"/catalogue/resources/{resource.code}/").status_code == 200
    form = page(citizen.get(f"/workflows/objections/new/?resource={resource.code}"))
    assert f'<option value="{resource.code}" selected>' in form
