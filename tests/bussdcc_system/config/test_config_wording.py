"""How values from the file are spelt in messages: cut short, whatever their length."""

from __future__ import annotations

from bussdcc_system.config.wording import join_key, number, quoted, shortened


def test_values_are_cut_after_60_characters() -> None:
    assert quoted("x" * 60) == repr("x" * 60)
    assert quoted("x" * 5_000_000) == repr("x" * 60 + "…")
    assert shortened("abc", 2) == "ab…"
    assert shortened("ab", 2) == "ab"


def test_keys_from_the_file_are_cut_like_values() -> None:
    assert join_key("web", "port") == "web.port"
    assert join_key("", "web") == "web"
    assert join_key("web", "k" * 5_000_000) == "web." + "k" * 60 + "…"


def test_numbers_are_spelt_as_an_admin_would() -> None:
    assert (number(86400.0), number(0.5), number(3)) == ("86400", "0.5", "3")
