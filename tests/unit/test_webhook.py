"""The webhook URL check, redaction and the errors every webhook channel shares."""

from __future__ import annotations

import pytest

from pushdeploy.domain.slack import (
    SLACK,
)
from pushdeploy.domain.webhook import (
    WebhookRejectedError,
    WebhookUnavailableError,
    WebhookUrlError,
    check_webhook_url,
    redact,
)
from tests.unit.notification_records import (
    PATH,
    WEBHOOK,
)

# --- check_webhook_url and redact ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        WEBHOOK,
        "https://hooks.slack.com:443/services/T0/B0/x",
        "https://hooks.slack.com/triggers/T0/123/abc",
    ],
)
def test_slack_webhook_urls_pass(url: str) -> None:
    # Given a Slack incoming-webhook URL
    # When it is checked
    # Then it passes unchanged
    assert check_webhook_url(url, SLACK, parameter=f"{PATH}/default") == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "it is empty"),
        ("http://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret", 'got scheme "http" and host "hooks.slack.com"'),
        ("https://hooks.slack.com.evil.example/services/Xy9TokenThatIsSecret", 'host "hooks.slack.com.evil.example"'),
        ("https://user:Xy9TokenThatIsSecret@hooks.slack.com/services/T0", "user name or password"),
        ("https://hooks.slack.com:8443/services/T0/B0/Xy9TokenThatIsSecret", "port 8443"),
        ("https://hooks.slack.com/", "no webhook path"),
        ("https://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret\n", "whitespace or control characters"),
        ("hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret", "host null"),
        ("http://127.0.0.1:8080/services/T0/B0/Xy9TokenThatIsSecret", 'scheme "http" and host "127.0.0.1" port 8080'),
    ],
)
def test_other_urls_are_refused_without_quoting_them(url: str, problem: str) -> None:
    # Given a parameter that holds something other than a Slack webhook URL (loopback not allowed)
    # When it is checked
    with pytest.raises(WebhookUrlError) as raised:
        check_webhook_url(url, SLACK, parameter=f"{PATH}/default")

    # Then the error names the parameter and the problem, never the URL or its token
    message = str(raised.value)
    assert message.startswith(f"Slack webhook parameter {PATH}/default is not usable: ")
    assert problem in message
    assert "Xy9TokenThatIsSecret" not in message
    assert "/services/" not in message


def test_loopback_passes_only_when_allowed() -> None:
    # Given a loopback URL, as the tests' webhook server has
    url = "http://127.0.0.1:8080/services/T0/B0/token"

    # When it is checked with loopback allowed
    # Then it passes; localhost names and other addresses still do not
    assert check_webhook_url(url, SLACK, allow_loopback=True) == url
    for other in ("http://localhost:8080/services/x", "http://10.0.0.1/services/x", "ftp://127.0.0.1/services/x"):
        with pytest.raises(WebhookUrlError):
            check_webhook_url(other, SLACK, allow_loopback=True)


def test_redact_removes_the_url_and_its_token_in_any_form() -> None:
    # Given texts that quote a webhook URL, its path or its token
    path = "/services/T0PUSHDPL/B0DEFAULT/Xy9TokenThatIsSecret"
    text = f"failed {WEBHOOK} and {WEBHOOK!r} path {path} token Xy9TokenThatIsSecret"

    # When they are redacted
    redacted = redact(text, WEBHOOK)

    # Then nothing of the URL's path remains
    assert "Xy9TokenThatIsSecret" not in redacted
    assert "B0DEFAULT" not in redacted
    assert "/services/" not in redacted
    assert redacted.startswith("failed <redacted>")


# --- Errors -------------------------------------------------------------------------------------------------


def test_rejected_error_names_status_body_and_what_to_do() -> None:
    # Given Slack's answer to a removed webhook
    error = WebhookRejectedError(404, "no_service", SLACK)

    # Then the error is permanent and says the status, Slack's word and a hint
    assert not error.retryable
    assert str(error) == (
        "Slack refused the message: HTTP 404 'no_service' (the webhook was removed or its URL is wrong; "
        "store the current URL in the parameter)"
    )


def test_unavailable_error_is_retryable() -> None:
    # Given Slack kept answering 500
    error = WebhookUnavailableError(4, 2.5, "HTTP 500 'oops'", "Slack")

    # Then the error is retryable and says how hard it tried
    assert error.retryable
    assert "after 4 attempt(s) in 2.5 s (last: HTTP 500 'oops')" in str(error)
