"""serving.guard without a server: the rate-limited client-error log, Host parsing, settings."""

from __future__ import annotations

import pytest

from serving.guard import RateLimitedLog, Settings, _host


def test_client_error_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    limit = RateLimitedLog(per_interval=3, interval=3600)
    with caplog.at_level("INFO", logger="bentoml.retain"):
        written = [limit.info("client error %d on %s", 400, "/score") for _ in range(5)]
    assert written == [True, True, True, False, False]
    assert [r.getMessage() for r in caplog.records] == ["client error 400 on /score"] * 3


def test_suppressed_lines_are_counted_in_the_next_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = RateLimitedLog(per_interval=0, interval=0.0)  # every call opens a new interval
    with caplog.at_level("INFO", logger="bentoml.retain"):
        assert limit.info("x") is False
        assert limit.info("x") is False
    assert [r.getMessage() for r in caplog.records] == ["1 more client errors were not logged"]


@pytest.mark.parametrize(
    ("header", "host"),
    [
        (b"127.0.0.1:3000", "127.0.0.1"),
        (b"LocalHost", "localhost"),
        (b"[::1]:3000", "::1"),
        (b"evil.example:80", "evil.example"),
        (b"", ""),
    ],
)
def test_host_header_names_the_host_without_port(header: bytes, host: str) -> None:
    assert _host({"headers": [(b"host", header)]}) == host


def test_settings_default_to_loopback_no_key_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RETAIN_API_KEY",
        "RETAIN_ALLOWED_HOSTS",
        "RETAIN_MAX_BODY_BYTES",
        "RETAIN_CORS_ORIGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert (s.api_key, s.hosts, s.max_body, s.cors) == (
        None,
        ("127.0.0.1", "localhost", "::1"),
        4 * 1024 * 1024,
        [],
    )
    monkeypatch.setenv("RETAIN_ALLOWED_HOSTS", " scores.example.com , *")
    monkeypatch.setenv("RETAIN_MAX_BODY_BYTES", "none")
    with pytest.raises(
        ValueError, match="RETAIN_MAX_BODY_BYTES must be a whole number, got 'none'"
    ):
        Settings.from_env()
    monkeypatch.setenv("RETAIN_MAX_BODY_BYTES", "1000")
    assert Settings.from_env().hosts == ("scores.example.com", "*")
