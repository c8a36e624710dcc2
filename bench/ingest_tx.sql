-- The database floor of partner ingestion: the SQL of one accepted metro record, as
-- app/credits/ingest.py + crediting.py + app/ledger/service.py + app/planet/service.py send
-- it (captured from the live code with `python -m bench.floors capture-ingest`), one
-- transaction per record. Run by bench/floors.py with pgbench on a throw-away copy of the
-- bench database (-D players=N).
--
-- Faithful: the same statements in the same order, on the same rows, indexes and locks:
-- duplicate check, player read, then in one transaction the daily totals upsert (row lock),
-- the activity, the ledger transaction, the 6 accounts locked in id order (FOR UPDATE),
-- one UPDATE of the 6 balances/counts/chain heads, the 6 hash-chained lines, the daily
-- totals, the planet upsert (row lock) and its new state, the partner record, COMMIT.
-- Approximations: (1) one extra statement first, the bench_player lookup that picks a
--   random player (the app knows the id from the request); (2) the balance UPDATE adds
--   the amounts in SQL and the lines' seq/balance/hash come from the updated account rows
--   (the app computes them in Python between the SELECT and the UPDATE; same rows written,
--   and the script stays replayable); the hashes are md5 stand-ins, not the SHA-256 chain;
--   (3) the 6 lines go in one multi-row INSERT (the app pipelines 6 one-row INSERTs with
--   executemany, one round trip); (4) no egg reward transaction (the engine finds eggs only
--   on some records); (5) the asyncpg pool's reset query on connection release (three per
--   record in the app: "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL")
--   is not the database's work and is left out.
\set n random(1, :players)
\set shard random(0, 15)
\set r random(1, 1000000000000)
SELECT id AS pid FROM bench_player WHERE n = :n \gset
SELECT "status","received_at","reason","payload","partner_id","message","activity_id","id","record_id" FROM "partner_record" WHERE "partner_id"='pgbench' AND "record_id"='pg-:client_id-:r' LIMIT 2;
SELECT "avatar_url","updated_at","nickname","roles","created_at","city","phone","id" FROM "player" WHERE "id" IN (':pid');
BEGIN;
INSERT INTO daily_credit (player_id, local_date, kind, reduction_grams, points, growth, energy, steps) VALUES (':pid', current_date, 'metro', 0, 0, 0, 0, 0) ON CONFLICT (player_id, local_date, kind) DO UPDATE SET kind = EXCLUDED.kind RETURNING *;
INSERT INTO "activity" ("id","kind","source","occurred_at","ended_at","local_date","distance_meters","steps","reduction_grams","points","growth","energy","status","reject_reason","reject_message","methodology_id","methodology_version","provenance","created_at","updated_at","player_id") VALUES (md5('a-:client_id-:r')::uuid,'metro','partner:pgbench',now() - interval '2 hours',now() - interval '90 minutes',current_date,12850,NULL,600,75,60,0,'accepted',NULL,NULL,'cn-low-carbon-travel',1,'{"factors":{"metro.baseline":"170","metro.mode":"123.3","points.grams_per_point":"8","growth.per_kg":"100"},"capsApplied":[]}',now(),now(),':pid');
INSERT INTO "ledger_transaction" ("id","type","idempotency_key","reference","created_at") VALUES (md5('t-:client_id-:r')::uuid,'ACTIVITY_CREDIT','activity:' || md5('a-:client_id-:r')::uuid,'activity:' || md5('a-:client_id-:r')::uuid,now());
SELECT id, owner, asset, balance, line_count, last_hash, allow_negative FROM ledger_account WHERE (owner = 'player::pid' AND asset = 'CARBON_POINT') OR (owner = 'player::pid' AND asset = 'CO2E_GRAMS') OR (owner = 'player::pid' AND asset = 'GROWTH') OR (owner = 'system:issuance:' || lpad(':shard', 2, '0') AND asset = 'CARBON_POINT') OR (owner = 'system:issuance:' || lpad(':shard', 2, '0') AND asset = 'CO2E_GRAMS') OR (owner = 'system:issuance:' || lpad(':shard', 2, '0') AND asset = 'GROWTH') ORDER BY id FOR UPDATE;
UPDATE ledger_account SET balance = balance + CASE asset WHEN 'CO2E_GRAMS' THEN 600 WHEN 'CARBON_POINT' THEN 75 ELSE 60 END * CASE WHEN owner LIKE 'system:%' THEN -1 ELSE 1 END, line_count = line_count + 1, last_hash = md5(last_hash || ':r') || md5(':r' || last_hash) WHERE (owner = 'player::pid' AND asset IN ('CARBON_POINT', 'CO2E_GRAMS', 'GROWTH')) OR (owner = 'system:issuance:' || lpad(':shard', 2, '0') AND asset IN ('CARBON_POINT', 'CO2E_GRAMS', 'GROWTH'));
INSERT INTO "ledger_line" ("seq","asset","amount","balance_after","created_at","hash","account_id","transaction_id") SELECT line_count, asset, CASE asset WHEN 'CO2E_GRAMS' THEN 600 WHEN 'CARBON_POINT' THEN 75 ELSE 60 END * CASE WHEN owner LIKE 'system:%' THEN -1 ELSE 1 END, balance, now(), last_hash, id, md5('t-:client_id-:r')::uuid FROM ledger_account WHERE (owner = 'player::pid' AND asset IN ('CARBON_POINT', 'CO2E_GRAMS', 'GROWTH')) OR (owner = 'system:issuance:' || lpad(':shard', 2, '0') AND asset IN ('CARBON_POINT', 'CO2E_GRAMS', 'GROWTH')) ORDER BY id RETURNING "id";
UPDATE "daily_credit" SET "reduction_grams"=reduction_grams + 600,"points"=points + 75,"growth"=growth + 60,"energy"=0,"steps"=0,"activity_id"=NULL WHERE player_id = ':pid' AND local_date = current_date AND kind = 'metro';
INSERT INTO planet (player_id, state, updated_at) VALUES (':pid', '{}', now()) ON CONFLICT (player_id) DO UPDATE SET player_id = EXCLUDED.player_id RETURNING *;
UPDATE "planet" SET "state"='{"growth":229,"level":2,"counts":{"metro":3,"bus":1},"quiz_correct":0,"last_active":"2026-11-22","streak":1,"best_streak":2,"unlocked":{"green-energy-islands":"2026-11-20T08:00:00+00:00"},"eggs":{"first-metro":"2026-11-18T08:00:00+00:00"}}',"updated_at"=now() WHERE player_id = ':pid';
INSERT INTO "partner_record" ("partner_id","record_id","received_at","payload","status","reason","message","activity_id") VALUES ('pgbench','pg-:client_id-:r',now(),'{"id":"pg-:client_id-:r","subject":":pid","kind":"metro","startedAt":"2026-11-22T08:01:00+08:00","endedAt":"2026-11-22T08:32:00+08:00","distanceMeters":12850}','accepted',NULL,NULL,md5('a-:client_id-:r')::uuid) RETURNING "id";
COMMIT;
