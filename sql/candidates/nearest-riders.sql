-- nearest-riders: the k available riders nearest to a pickup, within a radius, nearest first:
-- ST_DWithin bounds the search, <-> orders it by the GiST index (KNN).
-- Parameters: $1 longitude, $2 latitude, $3 radius in metres, $4 k. Answers id.
SELECT id
FROM riders_available
WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326)::geography, $3::float8)
ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326)::geography
LIMIT $4::int
