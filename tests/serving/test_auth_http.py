"""With RETAIN_API_KEY set, scoring and /model_info need the X-API-Key header; probes stay open."""

from __future__ import annotations

from typing import Any

import pytest

from serving.schemas import ModelInfo, ScoreResponse
from tests.helpers import Server, http
from tests.serving.support import API_KEY

pytestmark = pytest.mark.slow  # starts a second server

PROTECTED: list[tuple[str, dict[str, Any]]] = [
    ("/score", {"customers": []}),
    ("/score_ids", {"customer_ids": ["R000001"]}),
    ("/model_info", {}),
]
WRONG_KEYS = [
    pytest.param(None, id="no header"),
    pytest.param("", id="empty"),
    pytest.param("wrong-key", id="wrong"),
    pytest.param(API_KEY[:-1], id="prefix of the key"),
    pytest.param(API_KEY + "x", id="key plus more"),
    pytest.param(API_KEY.upper(), id="other case"),
]


@pytest.mark.parametrize(("path", "body"), PROTECTED)
@pytest.mark.parametrize("key", WRONG_KEYS)
def test_protected_endpoints_answer_401_without_the_right_key(
    keyed_service: Server, path: str, body: dict[str, Any], key: str | None
) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    status, answer = http("POST", f"{keyed_service.url}{path}", body, headers)
    assert status == 401
    assert "X-API-Key" in answer["error"]


def test_protected_path_with_trailing_slash_is_guarded_too(keyed_service: Server) -> None:
    status, _ = http("POST", f"{keyed_service.url}/score/", {"customers": []})
    assert status == 401


@pytest.mark.parametrize("header", ["X-API-Key", "x-api-key"])
def test_protected_endpoints_answer_200_with_the_key(keyed_service: Server, header: str) -> None:
    headers = {header: API_KEY}
    status, body = http("POST", f"{keyed_service.url}/score_ids", PROTECTED[1][1], headers)
    assert status == 200, body
    (score,) = ScoreResponse.model_validate(body).scores
    assert score.error is None
    assert score.churn_probability is not None
    status, body = http("POST", f"{keyed_service.url}/score", PROTECTED[0][1], headers)
    assert (status, body) == (200, {"scores": []})
    status, body = http("POST", f"{keyed_service.url}/model_info", {}, headers)
    assert status == 200
    assert ModelInfo.model_validate(body).max_batch == 500


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/"])
def test_probes_metrics_and_docs_stay_open(keyed_service: Server, path: str) -> None:
    status, _ = http("GET", f"{keyed_service.url}{path}")
    assert status == 200


def test_the_service_without_a_key_does_not_ask_for_one(service: Server) -> None:
    status, _ = http("POST", f"{service.url}/model_info", {})
    assert status == 200
