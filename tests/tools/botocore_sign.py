"""Signs a request with botocore's SigV4Auth and prints the headers it adds.

stdin: JSON {method, url, headers: [[name, value], ...] or {name: value},
body_b64, region, service, access_key_id, secret_access_key,
session_token (null for none), unix_seconds}
stdout: JSON {"x-amz-date": ..., "x-amz-security-token": ... (only with a
token), "authorization": ...}
The signing time is frozen to unix_seconds by patching
botocore.auth.get_current_datetime (what botocore's own unit tests patch).
"""

import base64
import datetime
import json
import sys
from unittest import mock

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    spec = json.load(sys.stdin)
    headers = spec.get("headers") or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    request = AWSRequest(
        method=spec["method"],
        url=spec["url"],
        data=base64.b64decode(spec.get("body_b64") or ""),
    )
    for name, value in headers:
        request.headers[name] = value  # appends: duplicates are kept
    before = {name.lower() for name in request.headers.keys()}
    credentials = Credentials(
        spec["access_key_id"], spec["secret_access_key"], spec.get("session_token")
    )
    now = datetime.datetime.fromtimestamp(spec["unix_seconds"], datetime.timezone.utc)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
    added = {
        name.lower(): value
        for name, value in request.headers.items()
        if name.lower() not in before
    }
    added["botocore-version"] = botocore.__version__
    json.dump(added, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
