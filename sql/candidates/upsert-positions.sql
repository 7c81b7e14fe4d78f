-- upsert-positions: writes a batch of available riders' positions, one row per rider (the caller
-- keeps the last position of each rider in a batch, so no id repeats).
-- Parameters, one array element per rider: $1 id text[], $2 longitude float8[], $3 latitude float8[].
INSERT INTO riders_available (id, geom)
SELECT id, ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography
FROM unnest($1::text[], $2::float8[], $3::float8[]) AS u(id, lng, lat)
ON CONFLICT (id) DO UPDATE SET geom = EXCLUDED.geom
