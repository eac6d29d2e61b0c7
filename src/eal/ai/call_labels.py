"""What a call classification says: the labels, shared by the embedded model and the LLM.

The definitions are the product's, and the corpus (`corpora/calls.jsonl`), the LLM's
instructions and the dispatch rules all follow them:

- intent ``water``: clean or grey water damage (pipes, appliances, roof leaks, storm
  flooding, sump pumps). ``fire``: fire, smoke and soot damage. ``mold``: mold growth or
  its signs. ``biohazard``: sewage and Category 3 water, trauma, unattended death, hoarding,
  animal droppings. ``sales_pitch``: anyone selling to the franchise (lead vendors, SEO,
  robocalls), even when they speak of water damage. ``wrong_number``: the caller wanted
  someone else. ``other``: invoices, adjusters on existing claims, job applicants,
  existing-job questions, services the franchise does not offer, silence.
- urgency ``high``: an active loss now or a safety risk; ``medium``: a recent or stopped
  loss needing service within days; ``low``: no time pressure or no loss.
- qualified: a real potential new job for this franchise: a new loss of a kind it handles,
  from someone who can hire it, not plainly in another state.
"""

from __future__ import annotations

from typing import Literal, get_args

Intent = Literal["water", "fire", "mold", "biohazard", "sales_pitch", "wrong_number", "other"]
Urgency = Literal["high", "medium", "low"]

INTENTS: tuple[str, ...] = get_args(Intent)
URGENCIES: tuple[str, ...] = get_args(Urgency)
#: The intents that are a loss the franchise handles (the only ones that can qualify).
LOSS_INTENTS: frozenset[str] = frozenset({"water", "fire", "mold", "biohazard"})
#: The intents that are not a customer at all.
JUNK_INTENTS: frozenset[str] = frozenset({"sales_pitch", "wrong_number"})
