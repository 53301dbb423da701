"""Apply for admission through the public form of a live portal (one new ledger entry and
the applicant's key): ``python tests/demo/apply_form.py BASE_URL``."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import sys
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from operators import uscc  # noqa: E402


def main(base: str) -> None:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form_url = base + "/participants/apply/"
    page = opener.open(form_url, timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, "no CSRF token on the apply form"
    serial = secrets.token_hex(3).upper().replace("I", "1").replace("O", "0")
    fields = {
        "csrfmiddlewaretoken": token.group(1), "code": uscc.make("91", "350100",
                                                                 f"MA{serial}"),
        "name_zh": f"见证测试{serial}有限公司", "kind": "merchant",
        "merchant_type": "application", "contact_name": "林", "contact_phone": "0591-1",
        "contact_email": "lin@example.com", "address": "福州",
        "account-username": f"w{serial.lower()}", "account-password": "Witness-2026-pass",
    }
    request = urllib.request.Request(form_url, data=urllib.parse.urlencode(fields).encode(),
                                     headers={"Referer": form_url})
    with opener.open(request, timeout=60) as response:
        assert "/participants/91350100" in response.url, response.url


if __name__ == "__main__":
    main(sys.argv[1])
