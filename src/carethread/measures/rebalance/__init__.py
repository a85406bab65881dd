"""Rebalancing panels: reassign patients when a clinician leaves or panels overflow, keeping the most relationships.

docs/rebalance.md. One module per step:

* :mod:`~carethread.measures.rebalance.roster` — panels, capacities and
  departures as of the planning date, and who needs a place;
* :mod:`~carethread.measures.rebalance.strength` — the strength of each
  patient's tie with each clinician (recency-weighted visits, practice);
* :mod:`~carethread.measures.rebalance.candidates` — the bounded set of
  clinicians each patient may go to, and the allowed sets;
* :mod:`~carethread.measures.rebalance.prepare` — the bounded pairs out of
  the engine and into arrays;
* :mod:`~carethread.measures.rebalance.model` — the transportation LP (MILP
  with side constraints) solved with HiGHS;
* :mod:`~carethread.measures.rebalance.explain` — reasons and alternatives;
* :mod:`~carethread.measures.rebalance.plan` — :func:`rebalance` and its
  :class:`Plan`;
* :mod:`~carethread.measures.rebalance.strategies` and
  :mod:`~carethread.measures.rebalance.whatif` — the naive strategies
  practices use and :func:`what_if`, which compares them with the plan.
"""

from carethread.measures.rebalance.plan import Plan, rebalance
from carethread.measures.rebalance.strength import relationship_strength
from carethread.measures.rebalance.whatif import WhatIf, what_if

__all__ = ["Plan", "WhatIf", "rebalance", "relationship_strength", "what_if"]
