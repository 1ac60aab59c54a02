"""The S3 bank: objects in one S3 bucket, through botocore; streamed puts as multipart uploads."""
