"""Settings per profile, in the style of arcface_torch's configs (a base plus one set of changes per
variant): each paper package's ``config.py`` holds a :class:`Variants` of the settings that change
with the profile (training budgets: epochs, batch sizes, pairs, model sizes), so that a profile's
YAML section only names data paths and a few evaluation sizes.

A notebook's parameters cell then holds CHANGES on top of its profile's variant::

    fra = {}            # FRAConfig changes on top of the profile's (lib/fra/config.py)
    num_pairs = None    # None: the profile's

    s = fra_config.VARIANTS.resolve(run.profile, fra=fra, num_pairs=num_pairs)

A dict merges over the variant's dict, None takes the variant's value, anything else replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.paths import PROFILES


@dataclass(frozen=True)
class Variants:
    """{parameter: value} for each profile (a package's ``PUBLISHED`` holds the paper's values, which its
    ``full`` variant takes). ``rehearsal`` runs the full profile's code paths (its architectures, heads,
    schedules) at the smoke profile's sizes, on the small real-layout trees of lib.data.rehearsal."""

    smoke: dict = field(default_factory=dict)
    default: dict = field(default_factory=dict)
    full: dict = field(default_factory=dict)
    rehearsal: dict = field(default_factory=dict)

    def of(self, profile: str) -> dict:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {PROFILES}")
        return getattr(self, profile)

    def resolve(self, profile: str, **params) -> dict:
        """Each of ``params`` on top of the profile's value of that name (see the module docstring)."""
        variant, out = self.of(profile), {}
        for name, change in params.items():
            base = variant.get(name)
            if change is None:
                out[name] = base
            elif isinstance(change, dict) and isinstance(base, dict):
                out[name] = {**base, **change}
            else:
                out[name] = change
        return out
