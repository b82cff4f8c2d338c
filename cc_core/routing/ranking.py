"""Ordering rules: the interaction score and each strategy's agent ranking.

Interaction score: ``score(t) = base + rate * (t - arrival)``. With one rate per queue the order
inside a queue never changes over time, so lines are sorted once by the time-invariant
``key = base - rate * arrival`` (stored negated so smaller sorts first). Across queues of the
same agent priority, candidates are compared by ``key + rate * t`` at decision time.

Agent ranking: a tuple, smaller first, ending with the agent's rank (registration order) so no
two agents tie. Quality weighting subtracts ``quality_weight * quality`` from the first element.
"""

from __future__ import annotations

import hashlib

from cc_core.domain import Interaction, Queue, Strategy


def interaction_base_rate(queue: Queue, interaction: Interaction) -> tuple[float, float]:
    base = interaction.priority + (queue.vip_boost if interaction.vip else 0.0)
    if queue.sla_ordering:
        # Seconds against the deadline: breaching soonest ranks first, also across queues.
        return base - (queue.sla_target or 0.0), 1.0
    return base, queue.aging_rate


def neg_key(queue: Queue, interaction: Interaction) -> tuple[float, float]:
    """(negated time-invariant key, rate) for an interaction entering ``queue``."""
    base, rate = interaction_base_rate(queue, interaction)
    return -(base - rate * interaction.arrival), rate


def score_at(neg: float, rate: float, t: float) -> float:
    return -neg + rate * t


def agent_entry(
    strategy: Strategy,
    quality_weight: float,
    quality: float,
    rank: int,
    last_activity: float,
    contacts: int,
    talk: float,
    level: int = 0,
) -> tuple:
    """Ranking tuple of an agent in one queue (``level``: primary-skill proficiency)."""
    wq = quality_weight * quality
    if strategy is Strategy.LONGEST_IDLE:
        return (last_activity - wq, rank)
    if strategy is Strategy.FEWEST_CONTACTS:
        return (contacts - wq, last_activity, rank)
    if strategy is Strategy.LEAST_TALK_TIME:
        return (talk - wq, last_activity, rank)
    if strategy in (Strategy.ROUND_ROBIN, Strategy.RANDOM):
        # Round robin: cyclic order after the queue's last pick. Random: drawn per decision
        # (see random_draw). Quality weight applies to neither.
        return (rank,)
    return (-level - wq, last_activity, rank)  # BEST_SKILL


def agent_value(
    strategy: Strategy,
    wq: float,
    rank: int,
    last_activity: float,
    contacts: int,
    talk: float,
    level: int = 0,
) -> float:
    """The first element of ``agent_entry`` (what an offer's reason reports), with the
    quality term ``wq = quality_weight * quality`` already computed; no tuple is built."""
    if strategy is Strategy.LONGEST_IDLE:
        return last_activity - wq
    if strategy is Strategy.FEWEST_CONTACTS:
        return contacts - wq
    if strategy is Strategy.LEAST_TALK_TIME:
        return talk - wq
    if strategy is Strategy.ROUND_ROBIN or strategy is Strategy.RANDOM:
        return rank
    return -level - wq  # BEST_SKILL


def random_draw(seed: int, queue_id: str, pick: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, queue, the queue's pick count, key).

    The random strategy draws agent positions with it; the same inputs always give the same
    choice, and every new pick of the queue draws afresh.
    """
    text = f"{seed}:{queue_id}:{pick}:{key}".encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


RANDOM_TRIES = 8  # positions drawn among ready agents before ranking all eligible ones
