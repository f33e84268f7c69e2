"""The runtime: builds the engine once (storage backend, one personal guard, services, notifier,
dispatcher, background tasks) and runs it: the CLI, the supervisor of `-workers N`, its serving
children and the delivery worker. Nothing else wires."""
