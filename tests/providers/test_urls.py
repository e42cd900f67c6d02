import socket

import pytest

from providers.base import BadResponseError
from providers.urls import check_download_url, decode_data_url


def resolver(*addresses):
    def resolve(host, port, proto=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, proto, "", (a, port)) for a in addresses]

    return resolve


def test_a_public_https_url_is_allowed():
    check_download_url("https://cdn.example.com/a.png", allow_private=False, resolve=resolver("93.184.216.34"))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254",
                                     "::1", "fd00::1", "0.0.0.0"])
def test_a_host_resolving_to_a_private_or_local_address_is_refused(address):
    with pytest.raises(BadResponseError, match="private or local"):
        check_download_url("https://evil.example.com/a.png", allow_private=False, resolve=resolver(address))


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(BadResponseError):
        check_download_url("https://mixed.example.com/", allow_private=False, resolve=resolver("8.8.8.8", "10.1.1.1"))


def test_other_schemes_are_refused_even_when_private_addresses_are_allowed():
    with pytest.raises(BadResponseError, match="file scheme"):
        check_download_url("file:///etc/passwd", allow_private=True)


def test_the_loopback_allowance_permits_http_to_local_fakes():
    check_download_url("http://127.0.0.1:8080/a.png", allow_private=True)


def test_data_urls_decode_and_bad_ones_are_refused():
    assert decode_data_url("data:image/png;base64,aGk=") == (b"hi", "image/png")
    with pytest.raises(BadResponseError):
        decode_data_url("data:image/png;base64")
