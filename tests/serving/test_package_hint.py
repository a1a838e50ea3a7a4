"""`retain package` without champions under the asked names names the models that have one."""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from core.errors import RetainError
from serving.store import package


def test_missing_champion_hint_names_the_registered_champions(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("crm-churn", "crm-clv"):
        client.create_registered_model(name)
        version = client.create_model_version(name, source=str(tmp_path / name))
        client.set_registered_model_alias(name, "champion", version.version)
    client.create_registered_model("no-alias")

    with pytest.raises(RetainError) as err:
        package("churn", "clv", tracking_uri=uri)
    message = str(err.value)
    assert "'churn' has no 'champion' version" in message
    assert "models with a 'champion' there: crm-churn, crm-clv." in message
    assert "no-alias" not in message
    assert "--config" in message
