"""The S3 bank: objects in one S3 bucket, through botocore; streamed puts as multipart uploads.

Needs the ``s3`` extra (botocore)."""

from banks.extras import require_extra

require_extra("s3", "the S3 bank", "botocore")
