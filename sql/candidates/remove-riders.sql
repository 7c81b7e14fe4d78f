-- remove-riders: riders who stopped being available (offered, on a job, on a break, offline,
-- disconnected) leave the store. Parameters: $1 id text[].
DELETE FROM riders_available WHERE id = ANY($1::text[])
