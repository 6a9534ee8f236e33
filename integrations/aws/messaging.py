"""Typed SQS and SNS clients for the downstream runbooks (`aws.sqs.send_message`, `aws.sns.publish`).

Every call goes through `aws_errors`, so callers only see `AwsError`; botocore's standard retry mode
is the one retry layer (docs/retries.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.aws.session import AwsSession, aws_errors


def _attributes(values: Mapping[str, str]) -> dict[str, Any]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in sorted(values.items()) if v}


class SqsClient:
    system = "aws.sqs"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.client("sqs")

    def queue_url(self, name: str) -> str:
        """The queue's URL (raises `AwsError` code AWS.SimpleQueueService.NonExistentQueue if missing)."""
        with aws_errors(self.system, "GetQueueUrl"):
            return str(self._client.get_queue_url(QueueName=name)["QueueUrl"])

    def send_message(
        self,
        queue_url: str,
        body: str,
        *,
        attributes: Mapping[str, str],
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        """Send one message; FIFO queues need `group_id` (and take `deduplication_id`)."""
        kwargs: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MessageBody": body,
            "MessageAttributes": _attributes(attributes),
        }
        if group_id is not None:
            kwargs["MessageGroupId"] = group_id
        if deduplication_id is not None:
            kwargs["MessageDeduplicationId"] = deduplication_id
        with aws_errors(self.system, "SendMessage"):
            return str(self._client.send_message(**kwargs)["MessageId"])


class SnsClient:
    system = "aws.sns"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.client("sns")

    def topic_attributes(self, arn: str) -> dict[str, str]:
        """The topic's attributes (raises `AwsError` code NotFound if it does not exist)."""
        with aws_errors(self.system, "GetTopicAttributes"):
            reply = self._client.get_topic_attributes(TopicArn=arn)
        return {str(k): str(v) for k, v in reply.get("Attributes", {}).items()}

    def publish(
        self,
        arn: str,
        message: str,
        *,
        subject: str,
        attributes: Mapping[str, str],
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "TopicArn": arn,
            "Message": message,
            "Subject": subject,
            "MessageAttributes": _attributes(attributes),
        }
        if group_id is not None:
            kwargs["MessageGroupId"] = group_id
        if deduplication_id is not None:
            kwargs["MessageDeduplicationId"] = deduplication_id
        with aws_errors(self.system, "Publish"):
            return str(self._client.publish(**kwargs)["MessageId"])
