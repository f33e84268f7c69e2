"""The use cases: create, update, replace and delete entities and attributes, query, batch, types,
and the personal-data rights of residents. Each asks the personal guard and calls the storage port;
the HTTP layer calls them with a `RequestContext`."""
