"""faiross.kernel.http.client_ip: which address a signature record keeps."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from faiross.kernel.http import client_ip


def request(remote="203.0.113.9", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxies_the_connection_address_is_used(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 0
    settings.FAIROSS_TRUSTED_PROXIES = []
    assert client_ip(request()) == "203.0.113.9"
    assert client_ip(request(remote="127.0.0.1")) == "127.0.0.1"


def test_without_proxies_a_forged_forwarded_for_is_ignored(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 0
    settings.FAIROSS_TRUSTED_PROXIES = []
    assert client_ip(request(forwarded="198.51.100.7")) == "203.0.113.9"
    assert client_ip(request(forwarded="198.51.100.7, 192.0.2.1")) == "203.0.113.9"


def test_no_address_gives_none(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request(remote="")) is None
    assert client_ip(request(remote="not an address", forwarded="198.51.100.7")) is None


def test_one_trusted_proxy_gives_the_address_it_appended(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 1
    settings.FAIROSS_TRUSTED_PROXIES = []
    # The proxy (10.0.0.2) appends the address it was connected from.
    assert client_ip(request(remote="10.0.0.2", forwarded="198.51.100.7")) == "198.51.100.7"
    # What the client sent itself, further left, is not trusted.
    forged = "192.0.2.66, garbage, 198.51.100.7"
    assert client_ip(request(remote="10.0.0.2", forwarded=forged)) == "198.51.100.7"
    # IPv6 clients too.
    assert client_ip(request(remote="10.0.0.2", forwarded="2001:db8::7")) == "2001:db8::7"
    # No header (a request that did not come through the proxy): the connection's address.
    assert client_ip(request(remote="10.0.0.2")) == "10.0.0.2"


def test_two_trusted_proxies_count_from_the_right(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 2
    settings.FAIROSS_TRUSTED_PROXIES = []
    # CDN appends the client, the load balancer appends the CDN edge; REMOTE_ADDR is the LB.
    chain = "192.0.2.66, 198.51.100.7, 203.0.113.50"
    assert client_ip(request(remote="10.0.0.2", forwarded=chain)) == "198.51.100.7"
    # Too few entries for two proxies: not trusted.
    assert client_ip(request(remote="10.0.0.2", forwarded="198.51.100.7")) == "10.0.0.2"


def test_trusted_proxy_addresses_must_match(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 1
    settings.FAIROSS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request(remote="10.0.0.2", forwarded="198.51.100.7")) == "198.51.100.7"
    # Straight from the internet, bypassing the proxy: the header is the client's own.
    assert client_ip(request(remote="203.0.113.9", forwarded="198.51.100.7")) == "203.0.113.9"
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 0  # the list alone gives the count
    assert client_ip(request(remote="10.0.0.2", forwarded="198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize(("count", "proxies"), [(2, ["10.0.0.0/8"]), (1, ["bad proxy"]), (-1, [])])
def test_misconfiguration_fails_loudly(settings, count, proxies):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = count
    settings.FAIROSS_TRUSTED_PROXIES = proxies
    with pytest.raises(ImproperlyConfigured):
        client_ip(request(forwarded="198.51.100.7"))
