"""The search tokeniser (no database): Hangul bigrams across spaces, Latin words case-folded, the
query's phrases, prefixes and particles, and the MATCH / tsquery texts built from them."""

from __future__ import annotations

from plugins.knowledge_share.search.tokens import (
    MAX_TERMS,
    QueryUnit,
    document_terms,
    fts5_query,
    query_units,
    strip_particle,
    tsquery,
)


def test_hangul_bigrams_cross_spaces_and_end_with_the_last_syllable():
    assert document_terms("건강식품 세미나로") == ["건강", "강식", "식품", "품세", "세미", "미나", "나로", "로"]


def test_latin_and_digits_are_words_case_folded_and_separate_hangul():
    assert document_terms("Kakao 친구톡 WIN-back 2026년") == ["kakao", "친구", "구톡", "톡", "win", "back", "2026", "년"]


def test_nfkc_full_width_and_compatibility_characters():
    assert document_terms("ＫＡＫＡＯ ＳＭＳ") == ["kakao", "sms"]
    assert document_terms("Straße") == ["strasse"]


def test_punctuation_breaks_a_hangul_segment():
    assert document_terms("건강·세미나") == ["건강", "강", "세미", "미나", "나"]


def test_one_syllable_and_other_scripts():
    assert document_terms("꿀 健康") == ["꿀", "健康"]
    # NFKC turns compatibility jamo into conjoining jamo: one word either way
    assert document_terms("ㅋㅋ") == document_terms("\u110f\u110f") == ["\u110f\u110f"]


def test_terms_are_capped():
    assert len(document_terms("가나" * 20_000)) == MAX_TERMS
    assert document_terms("a" * 61 + " ok") == ["ok"]


def test_query_units():
    # KS-7: a query written without a space is one phrase of its bigrams
    assert query_units("건강식품세미나") == [QueryUnit(("건강", "강식", "식품", "품세", "세미", "미나"))]
    assert query_units("건강") == [QueryUnit(("건강",))]
    assert query_units("세미나") == [QueryUnit(("세미", "미나"))]
    assert query_units("KaKaO") == [QueryUnit(("kakao",))]
    assert query_units("꿀") == [QueryUnit(("꿀",), prefix=True)]
    # spaces separate words in a query; duplicates go
    assert query_units("건강 식품 건강") == [QueryUnit(("건강",)), QueryUnit(("식품",))]
    assert query_units("!!! ...") == []


def test_particles_dropped_from_query_words_of_three_syllables_or_more():
    assert strip_particle("세미나로") == "세미나"
    assert strip_particle("고객을") == "고객"
    assert strip_particle("매장에서") == "매장"
    assert strip_particle("건강을") == "건강"
    assert strip_particle("회의") == "회의"  # two syllables stay whole
    assert strip_particle("재구매") == "재구매"


def test_backend_query_texts():
    units = query_units("건강식품 kakao 꿀")
    assert fts5_query(units) == '"건강" AND "강식" AND "식품" AND "kakao" AND "꿀"*'
    assert fts5_query(units, "title") == 'title : "건강" AND title : "강식" AND title : "식품" AND title : "kakao" AND title : "꿀"*'
    assert tsquery(units) == "'건강' & '강식' & '식품' & 'kakao' & '꿀':*"
    assert tsquery(query_units("세미나 나로")) == "'세미' & '미나' & '나로'"  # each term once
