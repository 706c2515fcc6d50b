"""Address normalisation (rule E3): both sides of every comparison meet in one form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.addresses import InvalidAddress, normalise_address, normalise_all, require_address

NORMALISED = [
    pytest.param("ann@acme.example", "ann@acme.example", id="a plain address is kept as it is"),
    pytest.param(
        "Ann Lee <Ann.Lee@Acme.example>",
        "ann.lee@acme.example",
        id="a display name is removed",
    ),
    pytest.param(
        '"Lee, Ann" <ann@acme.example>',
        "ann@acme.example",
        id="a quoted display name holding a comma is removed",
    ),
    pytest.param(
        "Lee, Ann <ann@acme.example>",
        "ann@acme.example",
        id="an unquoted display name holding a comma is removed as Outlook writes it",
    ),
    pytest.param(
        '"ann@old.example" <ann@new.example>',
        "ann@new.example",
        id="a display name holding an address gives way to the address in brackets",
    ),
    pytest.param(
        "=?utf-8?q?J=C3=BCrgen?= <jurgen@acme.example>",
        "jurgen@acme.example",
        id="an encoded display name is removed",
    ),
    pytest.param("<ann@acme.example>", "ann@acme.example", id="bare angle brackets are removed"),
    pytest.param(
        "Ann < ann@acme.example >",
        "ann@acme.example",
        id="spaces inside the angle brackets are trimmed",
    ),
    pytest.param("mailto:ann@acme.example", "ann@acme.example", id="a mailto prefix is removed"),
    pytest.param(
        "MAILTO:Ann@Acme.example", "ann@acme.example", id="a mailto prefix in capitals is removed"
    ),
    pytest.param(
        "Ann <mailto:ann@acme.example>",
        "ann@acme.example",
        id="a mailto prefix inside angle brackets is removed",
    ),
    pytest.param(
        "mailto:ann@acme.example?subject=Renewal",
        "ann@acme.example",
        id="a mailto link keeps only its address, not its query",
    ),
    pytest.param(
        "ann@acme.example<mailto:ann@acme.example>",
        "ann@acme.example",
        id="an address pasted together with its mailto link gives the one address",
    ),
    pytest.param("ANN@ACME.EXAMPLE", "ann@acme.example", id="capitals are lowered in both parts"),
    pytest.param(
        "  ann@acme.example \n", "ann@acme.example", id="outer spaces and newlines are trimmed"
    ),
    pytest.param("ann+crm@acme.example", "ann+crm@acme.example", id="plus addressing is kept"),
    pytest.param("o'brien@acme.example", "o'brien@acme.example", id="an apostrophe is kept"),
    pytest.param(
        "Jürgen.Müller@Bücher.example",
        "jürgen.müller@bücher.example",
        id="unicode letters are kept and lowered",
    ),
    pytest.param(
        "José <JOSÉ@Exämple.example>",
        "josé@exämple.example",
        id="a unicode display name and address are read like ascii ones",
    ),
    pytest.param(
        "ann@mail-1.acme_corp.example",
        "ann@mail-1.acme_corp.example",
        id="digits hyphens and underscores in the domain are kept",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_an_address_is_normalised(raw: str, expected: str) -> None:
    assert normalise_address(raw) == expected


NOT_ADDRESSES = [
    pytest.param("", id="an empty value holds no address"),
    pytest.param("   \t ", id="spaces alone hold no address"),
    pytest.param("ann.acme.example", id="a value without an at sign is not an address"),
    pytest.param("Ann Lee", id="a display name alone is not an address"),
    pytest.param("@acme.example", id="an address without a local part is refused"),
    pytest.param("ann@", id="an address without a domain is refused"),
    pytest.param("ann@b@acme.example", id="two at signs are refused"),
    pytest.param("ann@@acme.example", id="a doubled at sign is refused"),
    pytest.param("ann lee@acme.example", id="a space inside the address is refused"),
    pytest.param("ann\t@acme.example", id="a tab inside the address is refused"),
    pytest.param("ann\u200b@acme.example", id="an invisible character is refused"),
    pytest.param(
        "ann@acme.example, bob@globex.example", id="two addresses separated by a comma are refused"
    ),
    pytest.param(
        "ann@acme.example; bob@globex.example",
        id="two addresses separated by a semicolon are refused",
    ),
    pytest.param("Ann <ann@acme.example> (work)", id="text after the angle brackets is refused"),
    pytest.param("Ann <>", id="empty angle brackets are refused"),
    pytest.param("<<ann@acme.example>>", id="nested angle brackets are refused"),
    pytest.param("ann@acme.example>", id="an unmatched closing bracket is refused"),
    pytest.param("mailto:", id="a mailto prefix alone is refused"),
    pytest.param("ann@acme..example", id="an empty domain label is refused"),
    pytest.param("ann@.acme.example", id="a domain starting with a dot is refused"),
    pytest.param("ann@acme.example/path", id="a slash in the domain is refused"),
    pytest.param('"ann lee"@acme.example', id="a quoted local part is refused"),
]


@pytest.mark.parametrize("raw", NOT_ADDRESSES)
def test_a_value_without_one_usable_address_normalises_to_none(raw: str) -> None:
    assert normalise_address(raw) is None


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_require_address_returns_the_normalised_address(raw: str, expected: str) -> None:
    assert require_address(raw) == expected


@pytest.mark.parametrize("raw", NOT_ADDRESSES)
def test_require_address_refuses_a_value_without_one_usable_address(raw: str) -> None:
    with pytest.raises(InvalidAddress) as raised:
        require_address(raw)

    assert raised.value.reason == "invalid_address"
    assert raised.value.message == f"{raw!r} is not an email address"


@pytest.mark.parametrize(
    ("raws", "expected"),
    [
        pytest.param([], frozenset(), id="no values give no addresses"),
        pytest.param(
            ["Ann <ANN@acme.example>", "ann@acme.example", "mailto:ann@acme.example"],
            frozenset({"ann@acme.example"}),
            id="spellings of one address collapse to one",
        ),
        pytest.param(
            ["ann@acme.example", "", "not an address", "bob@globex.example"],
            frozenset({"ann@acme.example", "bob@globex.example"}),
            id="values holding no address are left out",
        ),
        pytest.param(
            ["", "   ", "Ann Lee"], frozenset(), id="only unusable values give no addresses"
        ),
    ],
)
def test_normalise_all_keeps_the_usable_addresses_once(
    raws: list[str], expected: frozenset[str]
) -> None:
    assert normalise_all(raws) == expected


def test_normalise_all_reads_any_iterable_once() -> None:
    raws = (raw for raw in ["Ann <ann@acme.example>", "BOB@globex.example"])

    assert normalise_all(raws) == frozenset({"ann@acme.example", "bob@globex.example"})


# Properties --------------------------------------------------------------------------------


@given(st.text())
def test_normalising_an_already_normalised_address_changes_nothing(raw: str) -> None:
    address = normalise_address(raw)

    if address is not None:
        assert normalise_address(address) == address


@given(st.text())
def test_a_normalised_address_is_lower_case_with_one_at_sign_and_no_spaces(raw: str) -> None:
    address = normalise_address(raw)

    if address is not None:
        assert address == address.lower()
        assert address.count("@") == 1
        assert not any(c.isspace() for c in address)


@given(st.emails(), st.text())
def test_any_display_name_around_an_address_is_removed(address: str, name: str) -> None:
    assert normalise_address(f"{name} <{address}>") == address.lower()


@given(st.emails())
def test_every_usual_spelling_of_an_address_gives_the_same_form(address: str) -> None:
    spellings = [
        address,
        address.upper(),
        f"  {address}  ",
        f"<{address}>",
        f"mailto:{address}",
        f"Someone <mailto:{address}>",
    ]

    assert {normalise_address(s) for s in spellings} == {address.lower()}
