"""Unified social credit codes (统一社会信用代码, GB 32100-2015), with the organisation code's
own check character (GB 11714): real codes pass, every kind of malformed one is refused
with an error naming the field ``code`` and the reason, and nothing is written."""

from __future__ import annotations

import pytest

from kernel.errors import InvalidInput
from ledger.models import Entry, LedgerKey
from operators import services, uscc
from operators.models import Kind, Participant

# Real-world codes, as published; each passes both check characters.
REAL_CODES = [
    "91350100M000100Y43",  # a widely published example
    "91110000600037341L",  # the example in python-stdnum's cn.uscc documentation
    "914403001922038216",  # a Shenzhen company: all-digit organisation code
    "91440300708461136T",  # a Shenzhen company: a letter as the final check character
    "91440300MA5H8REU3K",  # the subject serialNumber of a public EV TLS certificate:
    # letters after H in the organisation code, valued per GB 11714 (J=19 ... Z=35)
]
FORBIDDEN = "IOZSV"


def with_check(body17: str) -> str:
    return body17 + uscc.check_character(body17)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert uscc.validate(code) == code


def test_letters_in_the_organisation_code_use_gb_11714_values():
    # GB 11714 values letters by the full alphabet (J=19, R=27, U=30), not by the USCC
    # alphabet, which skips I, O, S, V and Z: MA5H8REU's check character is 3.
    assert uscc.org_check_character("MA5H8REU") == "3"
    assert uscc.org_check_character("M000100Y") == "4"


def test_input_is_trimmed_and_upper_cased():
    assert uscc.validate("  91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("org8", ["MA01XY2K", "00000000", "YYYYYYYY", "MA5H8REU", "12345678"])
@pytest.mark.parametrize("prefix", ["11", "12", "51", "91", "92", "Y1"])
def test_made_codes_are_valid(prefix, org8):
    code = uscc.make(prefix, "110108", org8)
    assert len(code) == 18
    assert uscc.validate(code) == code


def test_every_single_character_change_is_caught():
    for code in REAL_CODES:
        for position in range(18):
            for replacement in uscc.ALPHABET:
                if replacement == code[position]:
                    continue
                changed = code[:position] + replacement + code[position + 1:]
                with pytest.raises(uscc.USCCError):
                    uscc.validate(changed)


def org_code_x() -> str:
    """An organisation body whose GB 11714 check character is X (value 10)."""
    for n in range(100):
        body = f"MA{n:06d}"
        if uscc.org_check_character(body) == "X":
            return body
    raise AssertionError("no X check character found")


def test_organisation_check_character_x_and_0():
    assert uscc.validate(uscc.make("91", "350100", org_code_x()))
    zero = next(f"{n:08d}" for n in range(1000) if uscc.org_check_character(f"{n:08d}") == "0")
    assert uscc.validate(uscc.make("91", "350100", zero))


INVALID = {
    "17 characters": ("91350100M000100Y4", "must be 18 characters, got 17"),
    "19 characters": ("91350100M000100Y430", "must be 18 characters, got 19"),
    "empty": ("", "must be 18 characters, got 0"),
    "punctuation": ("91350100-M000100Y4", "not allowed in a USCC: -"),
    "division with a letter": (with_check("9135A100M000100Y4"), "administrative division"),
    "wrong check character": ("91350100M000100Y44",
                              "the check character (the 18th) does not fit"),
    "wrong organisation check character": (
        with_check("91350100M000100Y5"),
        "the organisation code M000100Y5 (characters 9-17) fails its GB 11714",
    ),
}
for letter in FORBIDDEN:
    INVALID[f"forbidden letter {letter}"] = (
        "91350100M" + letter + "00100Y43", f"characters not allowed in a USCC: {letter}"
    )


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_codes_name_the_reason(case):
    code, reason = INVALID[case]
    with pytest.raises(uscc.USCCError) as info:
        uscc.validate(code)
    assert reason in str(info.value)


def test_a_wrong_organisation_check_is_caught_even_when_the_final_check_fits():
    code = with_check("91350100M000100Y5")
    assert code[17] == uscc.check_character(code[:17])
    with pytest.raises(uscc.USCCError, match="fails its GB 11714 check character"):
        uscc.validate(code)


def test_an_error_never_gives_away_the_check_character_the_code_should_have() -> None:
    """Every wrong final character gets the very same message, so it cannot carry the
    right one."""
    right = uscc.make("91", "350100", "M000100Y")
    said = set()
    for wrong in (c for c in uscc.ALPHABET if c != right[17]):
        with pytest.raises(uscc.USCCError) as info:
            uscc.validate(right[:17] + wrong)
        said.add(str(info.value))
    assert len(said) == 1




@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(INVALID))
def test_registration_refuses_an_invalid_code_naming_the_field(case):
    code, reason = INVALID[case]
    before = (Entry.objects.count(), LedgerKey.objects.count(), Participant.objects.count())
    with pytest.raises(InvalidInput) as info:
        services.apply_for_admission(code=code, name_zh="某某科技有限公司", kind=Kind.MERCHANT,
                                     merchant_type="technical")
    assert info.value.field == "code"
    assert "not a valid unified social credit code" in info.value.reason
    assert reason in info.value.reason
    assert str(info.value).startswith("code: ")
    assert (Entry.objects.count(), LedgerKey.objects.count(),
            Participant.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("code", REAL_CODES)
def test_registration_accepts_real_codes(code):
    participant = services.apply_for_admission(code=code.lower(), name_zh="某某科技有限公司",
                                               kind=Kind.MERCHANT, merchant_type="service")
    assert participant.code == code
