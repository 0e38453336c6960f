"""Slack's rate limits as the stand-in models them, from Slack's rate-limit references.

docs.slack.dev/apis/web-api/rate-limits: limits apply "per API method per app per
workspace", in tiers — Tier 1 "1+ per minute", Tier 2 "20+", Tier 3 "50+" ("sporadic bursts
are welcome"), Tier 4 "100+" ("generous burst behavior") — and a special tier.
chat.postMessage (its method page, "Rate limiting"): "generally allow an app to post 1
message per second to a specific channel. There are limits governing your app's
relationship with the entire workspace above that, limiting posting to several hundred
messages per minute. Generous burst behavior is also granted." A refused call is HTTP 429
with `Retry-After` (seconds). Each method's tier is the one on its method page (the same
table as slackapi/java-slack-sdk `MethodsRateLimits`).

Every bucket here starts full: a tier's whole minute may be spent as a burst, then it
refills at its rate. The numbers are Slack's published minimums ("50+"): Slack may allow
more, never (by its docs) less.
"""

from __future__ import annotations

import random
import time

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# The methods the bot calls, by tier (their method pages); chat.postMessage is special.
METHOD_TIERS = {
    "conversations.open": 3, "conversations.history": 3, "conversations.replies": 3,
    "chat.update": 3, "users.lookupByEmail": 3,
    "chat.postEphemeral": 4, "users.info": 4, "views.open": 4, "views.push": 4,
    "views.update": 4, "views.publish": 4,
}
POST = "chat.postMessage"
UNLIMITED = frozenset({"auth.test", "chat.getPermalink"})  # "hundreds of requests per minute"


class Bucket:
    """Token bucket: `rate` tokens per second, at most `capacity` stored (starts full)."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens, self.stamp = capacity, now

    def take(self, now: float) -> float:
        """Take one token; return 0 on success, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def refund(self) -> None:
        """Give back a token taken for a call that was refused elsewhere."""
        self.tokens = min(self.capacity, self.tokens + 1)


class RateLimiter:
    """Slack-like limits: chat.postMessage per channel (and, with `posts_per_minute`, per
    workspace); with `tiers`, every other method per workspace by its tier;
    `workspace_per_minute` is one flat per-method limit instead (older tests)."""

    def __init__(self, per_channel_per_second: float, burst: float,
                 workspace_per_minute: float | None, random_429: float, seed: int | None,
                 tiers: bool = False, posts_per_minute: float | None = None) -> None:
        self.per_channel, self.burst = per_channel_per_second, max(burst, 1)
        self.workspace_per_minute, self.random_429 = workspace_per_minute, random_429
        self.tiers, self.posts_per_minute = tiers, posts_per_minute
        self._rng = random.Random(seed)
        self._channels: dict[str, Bucket] = {}
        self._methods: dict[str, Bucket] = {}

    def check(self, method: str, channel: str | None) -> int | None:
        """Retry-After seconds (>= 1) if this call must be refused with 429, else None."""
        if method in UNLIMITED:
            return None
        if self.random_429 and self._rng.random() < self.random_429:
            return 1
        now = time.monotonic()
        taken: list[Bucket] = []
        for bucket in self._buckets(method, channel, now):
            wait = bucket.take(now)
            if wait:
                for earlier in taken:
                    earlier.refund()
                return max(1, int(-(-wait // 1)))
            taken.append(bucket)
        return None

    def _buckets(self, method: str, channel: str | None, now: float) -> list[Bucket]:
        out = []
        if method == POST:
            out.append(self._bucket(self._channels, channel or "", self.per_channel,
                                    self.burst, now))
            if self.posts_per_minute:
                per_second = self.posts_per_minute / 60
                out.append(self._bucket(self._methods, method, per_second,
                                        max(self.burst, per_second * 10), now))
        elif self.tiers and method in METHOD_TIERS:
            per_minute = TIER_PER_MINUTE[METHOD_TIERS[method]]
            out.append(self._bucket(self._methods, method, per_minute / 60, per_minute, now))
        if self.workspace_per_minute and not (self.tiers and method in METHOD_TIERS):
            out.append(self._bucket(self._methods, f"flat:{method}",
                                    self.workspace_per_minute / 60, self.burst, now))
        return out

    @staticmethod
    def _bucket(store: dict[str, Bucket], key: str, rate: float, capacity: float,
                now: float) -> Bucket:
        if key not in store:
            store[key] = Bucket(rate, capacity, now)
        return store[key]
