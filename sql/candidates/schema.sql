-- schema: the PostGIS candidate store of the benchmark's baseline, in a database of its own
-- (never a migration of the product). One row per available rider, upserted on every position.
-- UNLOGGED: positions are ephemeral, and a team storing them in Postgres would not pay WAL for
-- them; this is the baseline's most favourable setting. The GiST index serves both ST_DWithin
-- and the KNN ordering (<->).
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE UNLOGGED TABLE IF NOT EXISTS riders_available (
  id text PRIMARY KEY,
  geom geography(Point, 4326) NOT NULL
);
CREATE INDEX IF NOT EXISTS riders_available_geom ON riders_available USING gist (geom);
