"""The sender's journal (senders/journal.py): what a restarted worker concludes from it."""

from __future__ import annotations

from senders.journal import ASSUMED_SENT, Journal, recover


def outcomes(tmp_path, held, write) -> dict:
    journal = Journal.open(tmp_path, "host:1")
    write(journal)
    journal.close()
    return {o.key: o for o in recover(tmp_path, "host:1", held)}


def test_a_result_on_record_wins_and_keeps_its_bounce_type(tmp_path):
    def write(journal: Journal) -> None:
        journal.handed("k1", "m1@x")
        journal.result("k1", "bounced", 550, "hard")

    found = outcomes(tmp_path, ["k1"], write)
    assert (found["k1"].state, found["k1"].code, found["k1"].bounce_type) == (
        "bounced",
        550,
        "hard",
    )
    assert found["k1"].message_id == "m1@x"


def test_a_body_handed_over_without_an_answer_is_taken_as_sent(tmp_path):
    found = outcomes(tmp_path, ["k1"], lambda j: j.handed("k1", "m1@x"))
    assert found["k1"].state == "sent" and found["k1"].diagnostic == ASSUMED_SENT


def test_a_claim_never_handed_over_is_released(tmp_path):
    assert outcomes(tmp_path, ["k1"], lambda j: None)["k1"].state == "released"


def test_a_later_hand_over_outweighs_an_earlier_deferral(tmp_path):
    # deferred once, then handed over again and the worker killed before the answer
    found = outcomes(tmp_path, ["k1"], lambda j: (j.result("k1", "deferred", 451),
                                                   j.handed("k1", "m1@x")))  # fmt: skip
    assert found["k1"].state == "sent"


def test_a_deferral_without_a_later_hand_over_is_released_for_the_redelivery(tmp_path):
    found = outcomes(tmp_path, ["k1"], lambda j: (j.handed("k1"), j.result("k1", "deferred", 451)))
    assert found["k1"].state == "released"
