"""Encryption of the values a team stores (Fernet, MultiFernet for rotation), and those values decrypted.

The route catalog (compare/catalog.py) lays a team's decrypted values over the server's environment."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _cipher(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
    except ValueError:
        raise ImproperlyConfigured("CREDENTIALS_KEYS must be comma-separated Fernet keys "
                                   "(make one with: python -c 'from cryptography.fernet import Fernet; "
                                   "print(Fernet.generate_key().decode())')") from None


def cipher() -> MultiFernet:
    return _cipher(settings.CREDENTIALS_KEYS)


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("A team credential cannot be decrypted with CREDENTIALS_KEYS: was a key "
                                   "removed before `manage.py rotate_credentials` ran?") from None


def team_env(team) -> dict:
    """The team's credentials as environment names -> values (they override the environment)."""
    if team is None:
        return {}
    return {row.name: decrypt(row.ciphertext) for row in team.credentials.all()}
