"""The notifier's numbered SQL migrations, applied by `subsidy.infra.migrate`."""
