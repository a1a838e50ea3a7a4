"""Request checks without a server: attribute names against the models, ids as exports write them,
and the OpenAPI rewrite of BentoML's document (the HTTP tests cover the same over the wire)."""

from __future__ import annotations

import time

import pytest

from serving.api_docs import ONE_WAY_AND_DATED, openapi
from serving.lookup import normalise_ids
from serving.requests import MAX_ATTRIBUTE_NAME, ItemError, check_attribute_names
from serving.schemas import CustomerInput

KNOWN = frozenset({"channel", "region", "Contract"})
TX = [{"timestamp": "2024-06-01T10:00:00", "amount": 20.0}]


def _item(attributes: dict[str, str]) -> CustomerInput:
    return CustomerInput.model_validate(
        {"customer_id": "C1", "as_of": "2024-12-31", "attributes": attributes, "transactions": TX}
    )


def test_known_and_absent_attributes_pass() -> None:
    check_attribute_names([_item({"channel": "web"}), _item({})], KNOWN)


def test_the_first_unknown_name_is_named_with_its_row_and_closest_known_name() -> None:
    items = [_item({"channel": "web"}), _item({"region": "n", "chanel": "web", "contract": "x"})]
    with pytest.raises(ItemError) as err:
        check_attribute_names(items, KNOWN)
    assert err.value.row == 1
    assert err.value.field == ["attributes"]
    message = str(err.value)
    assert message.startswith(
        "unknown attribute 'chanel' (did you mean 'channel'?) (and 1 more unknown of 3 sent): "
        "the models read ['Contract', 'channel', 'region']"
    )


def test_a_name_with_no_close_match_gets_no_suggestion() -> None:
    with pytest.raises(ItemError) as err:
        check_attribute_names([_item({"zzzz": "1"})], KNOWN)
    assert str(err.value).startswith("unknown attribute 'zzzz': the models read")


def test_an_over_long_name_is_refused_without_comparing_or_echoing_it() -> None:
    name = "channel" + "x" * 3_000_000
    start = time.perf_counter()
    with pytest.raises(ItemError) as err:
        check_attribute_names([_item({name: "web"})], KNOWN)
    assert time.perf_counter() - start < 5  # difflib on 3 MB would take minutes
    message = str(err.value)
    assert f"of {len(name)} characters" in message
    assert f"names are at most {MAX_ATTRIBUTE_NAME} characters" in message
    assert len(message) < 500


def test_a_model_without_attributes_says_to_send_none() -> None:
    with pytest.raises(ItemError) as err:
        check_attribute_names([_item({"channel": "web"})], frozenset())
    assert "the models read no attributes: send none" in str(err.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (12347, "12347"),
        (12347.0, "12347"),
        ("12347", "12347"),
        ("12347.0", "12347"),
        (" 12347 ", "12347"),
        ("-5.00", "-5"),
        (12347.5, "12347.5"),
        ("012347", "012347"),  # a text id keeps its leading zero
        ("R000001", "R000001"),
        ("A1.0", "A1.0"),  # only whole numbers lose their decimal point
    ],
)
def test_ids_are_normalised_as_loading_reads_an_export_s_id_column(
    given: str | int | float, expected: str
) -> None:
    assert normalise_ids([given]).tolist() == [expected]


def test_openapi_rewrites_bentoml_s_names_info_and_required_bodies() -> None:
    bentoml_doc = {
        "info": {"title": "retain", "version": "None", "contact": {"name": "BentoML Team"}},
        "tags": [{"name": "Service APIs", "description": "BentoML Service API endpoints"}],
        "paths": {
            "/score_ids": {
                "post": {
                    "tags": ["Service APIs"],
                    "x-bentoml-name": "score_ids",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"title": "Input"}}}
                    },
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
        "components": {
            "schemas": {
                "score_ids__Input": {"title": "score_ids__Input"},
                "CustomerInput": {"title": "CustomerInput"},
                "TaskStatusResponse": {"title": "TaskStatusResponse"},
            }
        },
    }
    spec = openapi(bentoml_doc)
    assert spec["info"]["title"] == "retain"
    assert spec["info"]["version"] != "None"
    assert "contact" not in spec["info"]
    operation = spec["paths"]["/score_ids"]["post"]
    assert operation["tags"] == ["Scoring"]
    assert "x-bentoml-name" not in operation
    body = operation["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/ScoreIdsRequest"}
    assert set(spec["components"]["schemas"]) == {"ScoreIdsRequest", "Error"}
    assert spec["components"]["schemas"]["ScoreIdsRequest"]["title"] == "ScoreIdsRequest"


def test_the_as_of_rule_in_the_document_is_the_request_model_s() -> None:
    """The document's rule and ``CustomerInput``'s validator accept and refuse the same items."""
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(ONE_WAY_AND_DATED)
    items = [
        {"customer_id": "C", "features": {}},
        {"customer_id": "C", "features": {}, "as_of": "2024-01-01"},
        {"customer_id": "C", "attributes": {}, "as_of": "2024-01-01"},
        {"customer_id": "C", "attributes": {}},
        {"customer_id": "C", "transactions": TX},
        {"customer_id": "C", "features": {}, "transactions": TX, "as_of": "2024-12-31"},
        {"customer_id": "C", "features": None, "as_of": "2024-01-01"},
        {"customer_id": "C", "features": None, "subscriptions": [], "as_of": "2024-01-01"},
        {"customer_id": "C"},
    ]
    for item in items:
        try:
            CustomerInput.model_validate(item)
            accepted = True
        except ValueError:
            accepted = False
        assert validator.is_valid(item) is accepted, item
