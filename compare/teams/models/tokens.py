"""Per-user API tokens: only a hash is kept, the token is shown once, it may expire."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


def _hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def find(self, token):
        """The token row of an active user (expired or not), or None. Marks a live token as used."""
        found = self.filter(key_hash=_hash_token(token), user__is_active=True).select_related("user").first()
        if found is None or found.expired:
            return found
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)  # not a write per request
        return found

    def user_for(self, token):
        """The active user owning this live (unexpired) token, or None. Marks the token as used."""
        found = self.find(token)
        return found.user if found is not None and not found.expired else None


class ApiToken(models.Model):
    """A per-user API token. Only its SHA-256 is stored; the token is shown once. It may expire."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    name = models.CharField(max_length=80, blank=True)  # what it is for, e.g. "CI" or "judge script"
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self):
        return f"{self.name or self.prefix + '…'} ({self.user})"

    @classmethod
    def issue(cls, user, expires_in=None, name=""):
        """Create a token for user, valid for the timedelta expires_in (None: until revoked),
        named for what it is for; returns (ApiToken, the plain token to show once)."""
        token = "ipc_" + secrets.token_urlsafe(32)
        expires_at = timezone.now() + expires_in if expires_in is not None else None
        return cls.objects.create(user=user, key_hash=_hash_token(token), prefix=token[:8],
                                  name=" ".join(name.split())[:80], expires_at=expires_at), token

    @property
    def expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    class Meta:
        db_table = "compare_apitoken"  # moved from the compare app; the table kept its name


