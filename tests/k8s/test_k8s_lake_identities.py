"""The lake's scoped identities (issue 16, item 14), enforced by a real S3 API server: moto's server
with IAM access control on (it evaluates Allow statements; what no statement allows is denied, as in
MinIO). Each client of the lake gets the policy the chart's hook Job attaches to the identity whose
Secret that client reads, with the policy text the chart renders; then what each may do:

- pipeline pods (lake-credentials) read and write the lake;
- Airflow (the connection airflow-lake-connection) writes its logs bucket and reads the lake;
- only the backup jobs (their own Secret) write the backup bucket: nothing else can overwrite or
  delete a backup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from k8s_helpers import find

from support.net import moto_server

LAKE, LOGS, BACKUP = "starlink-lake", "airflow-logs", "starlink-lake-backup"


def hook_identities(objects: list[dict]) -> dict[str, str]:
    """Secret name -> policy name, as the buckets Job pairs them (its script and its environment)."""
    job = find(objects, "Job", "starlink-minio-buckets")
    (mc,) = job["spec"]["template"]["spec"]["containers"]
    secret_of = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in mc["env"] if "valueFrom" in e}
    pairs = re.findall(r"^\s*identity (\S+) (\w+) (\w+)$", mc["args"][0], re.M)
    assert len(pairs) == 3, mc["args"][0]
    return {secret_of[access]: policy for policy, access, _ in pairs}


def policies(objects: list[dict]) -> dict[str, dict]:
    data = find(objects, "ConfigMap", "starlink-minio-policies")["data"]
    return {name.removesuffix(".json"): json.loads(text) for name, text in data.items()}


def who_reads(objects: list[dict]) -> dict[str, str]:
    """Which Secret each client of the lake logs in with, from the rendered objects."""
    backup = find(objects, "CronJob", "starlink-backup-lake")
    (mirror,) = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in mirror["env"] if "valueFrom" in e}
    connection = find(objects, "Secret", "airflow-lake-connection")
    assert connection["metadata"]["namespace"] == "airflow"
    return {"pipeline": "lake-credentials", "airflow": "starlink-minio-airflow", "backup": keys["ACCESS_KEY"]}


@pytest.fixture(scope="module")
def s3_iam() -> Iterator[str]:
    """moto's server, enforcing IAM after the first 3 calls (which create the admin)."""
    with moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as port:
        yield f"http://127.0.0.1:{port}"


def client(service: str, endpoint: str, key: dict | None = None):
    key = key or {"AccessKeyId": "bootstrap", "SecretAccessKey": "bootstrap-secret"}
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def clients(s3_iam: str, objects: list[dict]) -> dict[str, object]:
    iam = client("iam", s3_iam)
    iam.create_user(UserName="root")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="root", PolicyName="all", PolicyDocument=json.dumps(everything))
    root = iam.create_access_key(UserName="root")["AccessKey"]  # from here on, IAM is enforced
    iam, s3 = client("iam", s3_iam, root), client("s3", s3_iam, root)
    for bucket in (LAKE, LOGS, BACKUP):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="existing/object.json", Body=b"{}")
    policy_of, docs = hook_identities(objects), policies(objects)
    out = {"root": s3}
    for who, secret in who_reads(objects).items():
        iam.create_user(UserName=who)
        iam.put_user_policy(
            UserName=who, PolicyName=policy_of[secret], PolicyDocument=json.dumps(docs[policy_of[secret]])
        )
        out[who] = client("s3", s3_iam, iam.create_access_key(UserName=who)["AccessKey"])
    return out


def allowed(call) -> bool:
    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc
        return False
    return True


def can(s3, action: str, bucket: str) -> bool:
    key = "existing/object.json"
    calls = {
        "read": lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
        "list": lambda: s3.list_objects_v2(Bucket=bucket),
        "write": lambda: s3.put_object(Bucket=bucket, Key="new/object.json", Body=b"x"),
        "delete": lambda: s3.delete_object(Bucket=bucket, Key="new/object.json"),
    }
    return allowed(calls[action])


@pytest.mark.parametrize(
    ("who", "bucket", "expected"),
    [
        ("pipeline", LAKE, {"read", "list", "write", "delete"}),
        ("pipeline", LOGS, set()),
        ("pipeline", BACKUP, set()),
        ("airflow", LOGS, {"read", "list", "write", "delete"}),
        ("airflow", LAKE, {"read", "list"}),
        ("airflow", BACKUP, set()),
        ("backup", LAKE, {"read", "list"}),
        ("backup", BACKUP, {"read", "list", "write", "delete"}),
        ("backup", LOGS, set()),
    ],
)
def test_each_identity_does_only_its_job(clients: dict, who: str, bucket: str, expected: set[str]) -> None:
    actual = {action for action in ("read", "list", "write", "delete") if can(clients[who], action, bucket)}
    assert actual == expected


def test_nothing_but_the_backup_identity_can_delete_a_backup(clients: dict) -> None:
    for who in ("pipeline", "airflow"):
        assert not allowed(lambda s3=clients[who]: s3.delete_object(Bucket=BACKUP, Key="existing/object.json")), who
        assert not allowed(
            lambda s3=clients[who]: s3.put_object(Bucket=BACKUP, Key="existing/object.json", Body=b"")
        ), who
    assert clients["root"].get_object(Bucket=BACKUP, Key="existing/object.json")["Body"].read() == b"{}"


def test_the_hook_creates_every_identity_idempotently(objects: list[dict]) -> None:
    """Re-running the Job changes nothing: policies replaced by their text, keys set, attach once."""
    (mc,) = find(objects, "Job", "starlink-minio-buckets")["spec"]["template"]["spec"]["containers"]
    script = mc["args"][0]
    assert "mc admin policy create lake" in script and "mc admin user add lake" in script
    assert re.search(r'case \$\(mc admin user info lake "\$user" --json\) in\s+\*"\\"\$1\\""\*\) ;;', script)
    assert "mc mb --ignore-existing" in script
