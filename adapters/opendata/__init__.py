"""Open-data import: CSV, GeoJSON and CKAN resources become NGSI-v2 entities through `op/update`."""
