"""A hypothesis state machine over earn / redeem / expire / reverse / transfer / adjust.

After every step: each balance equals the sum of its entries and the sum of its open lots, no
balance or lot is negative, every lot's remaining = points − allocations, every entry's points =
lots opened − allocations made (``ledger.check``); and the model's own bookkeeping agrees:
what the operations reported moving is exactly what the balances show.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, timedelta

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "pp-hypothesis"))

from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test  # noqa: E402

from portal.extensions import db  # noqa: E402
from tests.plugins.loyalty.conftest import customer  # noqa: E402

SETTINGS = settings(max_examples=50, stateful_step_count=30, deadline=None, database=None)
CUSTOMERS_PER_EXAMPLE = 3


def test_ledger_invariants_hold_under_any_sequence(app):
    from plugins.loyalty import ledger
    from plugins.loyalty.expiry import expire
    from plugins.loyalty.ledger import InsufficientPoints, LedgerError, member_account

    counter = iter(range(1, 10_000))

    class Ledger(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            start = next(counter) * CUSTOMERS_PER_EXAMPLE
            self.ids = [start + i for i in range(CUSTOMERS_PER_EXAMPLE)]  # fresh customers per example
            self.today = date(2025, 1, 1)
            self.entries: list[int] = []
            self.expected = dict.fromkeys(self.ids, 0)

        def _commit(self):
            db.session.commit()

        @rule(who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1), points=st.integers(1, 500))
        def earn(self, who, points):
            r = ledger.earn(customer(self.ids[who]), points, "earn", on=self.today)
            self.entries.append(r.entry.id)
            self.expected[self.ids[who]] += points
            self._commit()

        @rule(who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1), points=st.integers(1, 700))
        def redeem(self, who, points):
            try:
                r = ledger.redeem(customer(self.ids[who]), points, "redeem", on=self.today)
            except InsufficientPoints:
                self._commit()
                return
            self.entries.append(r.entry.id)
            self.expected[self.ids[who]] -= points
            self._commit()

        @rule(who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1), points=st.integers(-300, 300).filter(bool))
        def adjust(self, who, points):
            try:
                r = ledger.adjust(customer(self.ids[who]), points, "adjust", on=self.today)
            except InsufficientPoints:
                self._commit()
                return
            self.entries.append(r.entry.id)
            self.expected[self.ids[who]] += points
            self._commit()

        @rule(days=st.integers(1, 400))
        def advance_and_expire(self, days):
            self.today += timedelta(days=days)
            expire(self.today)
            self._commit()
            self._resync()  # expiry moved points the model does not predict; take them from the ledger

        @rule(pick=st.integers(0, 10_000))
        def reverse(self, pick):
            if not self.entries:
                return
            entry_id = self.entries[pick % len(self.entries)]
            try:
                ledger.reverse(entry_id, "reverse", on=self.today)
            except LedgerError:
                self._commit()
                return
            self._commit()
            self._resync()  # a clawback may fall short by what was already spent

        @rule(a=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1), b=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1),
              points=st.integers(1, 400))
        def transfer(self, a, b, points):
            if a == b:
                return
            src, dst = member_account(self.ids[a]), member_account(self.ids[b])
            try:
                ledger.transfer(src, dst, points, "transfer", on=self.today)
            except InsufficientPoints:
                self._commit()
                return
            self.expected[self.ids[a]] -= points
            self.expected[self.ids[b]] += points
            self._commit()

        def _resync(self):
            for cid in self.ids:
                acct = member_account(cid, create=False)
                self.expected[cid] = int(acct.balance) if acct else 0

        @invariant()
        def balances_match_the_model(self):
            for cid in self.ids:
                acct = member_account(cid, create=False)
                assert (int(acct.balance) if acct else 0) == self.expected[cid]
                assert self.expected[cid] >= 0

        @invariant()
        def ledger_is_consistent(self):
            assert ledger.check() == []

    run_state_machine_as_test(Ledger, settings=SETTINGS)
