"""Google Cloud: Cloud Monitoring webhook notifications (see `gcp`)."""
