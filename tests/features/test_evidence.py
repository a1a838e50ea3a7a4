"""Reading evidence adds up over partitions: counts sum, the first examples are kept, and a
partition's label prefixes its examples only."""

from __future__ import annotations

from features.readings import MAX_EXAMPLES, DateEvidence, NumberEvidence


def test_date_evidence_adds_counts_and_keeps_the_first_examples() -> None:
    a = DateEvidence(2, 1, 0, ("a1", "a2"), ("m1",), ())
    b = DateEvidence(3, 0, 4, ("b1", "b2"), (), ("x1", "x2"))
    total = a + b
    assert total == DateEvidence(5, 1, 4, ("a1", "a2", "b1"), ("m1",), ("x1", "x2"))
    assert MAX_EXAMPLES == 3
    assert DateEvidence() + a == a


def test_number_evidence_keeps_the_first_ambiguous_text() -> None:
    a = NumberEvidence(1, 0, 1, ("2,5",), (), ("1,234",), "")
    b = NumberEvidence(0, 2, 1, (), ("1,234.50", "9,000.10"), ("5,000",), "5,000")
    c = NumberEvidence(first_ambiguous="7,000")
    assert a + b + c == NumberEvidence(
        1, 2, 2, ("2,5",), ("1,234.50", "9,000.10"), ("1,234", "5,000"), "5,000"
    )


def test_labelled_prefixes_every_example_and_nothing_else() -> None:
    number = NumberEvidence(1, 1, 1, ("2,5",), ("1,234.50",), ("1,234",), "1,234")
    assert number.labelled("partition 2") == NumberEvidence(
        1,
        1,
        1,
        ("partition 2 2,5",),
        ("partition 2 1,234.50",),
        ("partition 2 1,234",),
        "1,234",
    )
    date = DateEvidence(1, 0, 0, ("25/03/2024",), (), ())
    assert date.labelled("partition 0").day_first_examples == ("partition 0 25/03/2024",)
