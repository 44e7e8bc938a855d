from __future__ import annotations

from clef_pro.domain.connect import Connection, telemetry_headers, telemetry_url


def test_todays_cli_gets_the_logs_url_and_a_bearer_header_line() -> None:
    connection = Connection("https://clef-pro.example.com/", "payments", key="clefpro_x")
    assert connection.todays_cli() == [
        "CLEF_TELEMETRY_URL=https://clef-pro.example.com/v1/logs",
        "CLEF_TELEMETRY_HEADERS=Authorization=Bearer clefpro_x",
    ]
    assert connection.report_api_cli() == [
        "clef.yaml: cloud.integrationId: payments",
        "CLEF_API_URL=https://clef-pro.example.com",
        "CLEF_API_TOKEN=clefpro_x",
    ]


def test_the_checkpoint_url_is_derived_as_the_cli_derives_it() -> None:
    # The CLI replaces the trailing /v1/logs of CLEF_TELEMETRY_URL with /v1/checkpoint.
    url = telemetry_url("http://127.0.0.1:8000")
    assert url.removesuffix("/v1/logs") + "/v1/checkpoint" == "http://127.0.0.1:8000/v1/checkpoint"
    assert telemetry_headers() == "Authorization=Bearer <API key>"
