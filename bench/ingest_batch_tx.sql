-- The database floor of partner ingestion in batches: the SQL of one batch of 100 accepted
-- metro records for 100 distinct players, as app/credits/ingest.py (`_ingest_together`),
-- app/credits/daily.py, app/planet/service.py (`apply_events`) and app/ledger/service.py
-- (`post_many_in_transaction`) send it, one transaction per batch. Run by
-- bench/floors.py with pgbench on a throw-away copy of the bench database (-D players=N);
-- records/s = transactions/s × 100.
--
-- Faithful: the same statements in the same order, on the same rows, indexes and locks:
-- the batch's earlier records and players read first, then in one transaction the daily
-- totals upsert of 100 rows in key order (row locks), 100 activities, one UPDATE of the
-- 100 daily rows, the 100 partner records, the planet upsert of 100 rows (row locks), one
-- UPDATE of their states, 100 ledger transactions, and last (the shared issuance accounts
-- are held only from here to commit) the players' accounts and one issuance shard's,
-- picked at random, locked in id order (FOR UPDATE), one UPDATE of their
-- balances/counts/chain heads, the 600 hash-chained lines, COMMIT.
-- Approximations: (1) the app sends the activities, transactions and partner records with
--   asyncpg's executemany (one pipelined round trip per statement kind) and the lines and
--   row updates as multi-row VALUES; here each is one INSERT … SELECT or UPDATE … FROM;
--   (2) the app computes seq, balance and hash per line in Python between the SELECT and
--   the UPDATE; here they come from the updated accounts (row_number for the shard's
--   several lines), the hashes are md5 stand-ins; (3) no egg rewards (found on some
--   records only); (4) the batch's players are 100 consecutive bench players from a
--   random start, as the load generator's batches are.
\set base random(1, :players - 99)
\set r random(1, 1000000000000)
\set shard random(0, 15)
SELECT "status","received_at","reason","payload","partner_id","message","activity_id","id","record_id" FROM "partner_record" WHERE "partner_id"='pgbench' AND "record_id" IN (SELECT 'pg-:client_id-:r-' || n FROM bench_player WHERE n BETWEEN :base AND :base + 99);
SELECT "avatar_url","updated_at","nickname","roles","created_at","city","phone","id" FROM "player" WHERE "id" IN (SELECT id FROM bench_player WHERE n BETWEEN :base AND :base + 99);
BEGIN;
INSERT INTO daily_credit (player_id, local_date, kind, reduction_grams, points, growth, energy, steps) SELECT id, current_date, 'metro', 0, 0, 0, 0, 0 FROM bench_player WHERE n BETWEEN :base AND :base + 99 ORDER BY id::text ON CONFLICT (player_id, local_date, kind) DO UPDATE SET kind = EXCLUDED.kind RETURNING *;
INSERT INTO "activity" ("id","kind","source","occurred_at","ended_at","local_date","distance_meters","steps","reduction_grams","points","growth","energy","status","reject_reason","reject_message","methodology_id","methodology_version","provenance","created_at","updated_at","player_id") SELECT md5('a-:client_id-:r-' || n)::uuid,'metro','partner:pgbench',now() - interval '2 hours',now() - interval '90 minutes',current_date,12850,NULL,600,75,60,0,'accepted',NULL,NULL,'cn-low-carbon-travel',1,'{"factors":{"metro.baseline":"170","metro.mode":"123.3","points.grams_per_point":"8","growth.per_kg":"100"},"capsApplied":[]}',now(),now(),id FROM bench_player WHERE n BETWEEN :base AND :base + 99;
UPDATE "daily_credit" d SET "reduction_grams"=d.reduction_grams + 600,"points"=d.points + 75,"growth"=d.growth + 60,"energy"=d.energy FROM bench_player b WHERE b.n BETWEEN :base AND :base + 99 AND d.player_id = b.id AND d.local_date = current_date AND d.kind = 'metro';
INSERT INTO "partner_record" ("partner_id","record_id","received_at","payload","status","reason","message","activity_id") SELECT 'pgbench','pg-:client_id-:r-' || n,now(),('{"id":"pg-:client_id-:r-' || n || '","subject":"' || id || '","kind":"metro","startedAt":"2026-11-22T08:01:00+08:00","endedAt":"2026-11-22T08:32:00+08:00","distanceMeters":12850}')::jsonb,'accepted',NULL,NULL,md5('a-:client_id-:r-' || n)::uuid FROM bench_player WHERE n BETWEEN :base AND :base + 99;
INSERT INTO planet (player_id, state, updated_at) SELECT id, '{}', now() FROM bench_player WHERE n BETWEEN :base AND :base + 99 ORDER BY id::text ON CONFLICT (player_id) DO UPDATE SET player_id = EXCLUDED.player_id RETURNING *;
UPDATE "planet" SET "state"='{"growth":229,"level":2,"counts":{"metro":3,"bus":1},"quiz_correct":0,"last_active":"2026-11-22","streak":1,"best_streak":2,"unlocked":{"green-energy-islands":"2026-11-20T08:00:00+00:00"},"eggs":{"first-metro":"2026-11-18T08:00:00+00:00"}}',"updated_at"=now() WHERE player_id IN (SELECT id FROM bench_player WHERE n BETWEEN :base AND :base + 99);
INSERT INTO "ledger_transaction" ("id","type","idempotency_key","reference","created_at") SELECT md5('t-:client_id-:r-' || n)::uuid,'ACTIVITY_CREDIT','activity:' || md5('a-:client_id-:r-' || n)::uuid,'activity:' || md5('a-:client_id-:r-' || n)::uuid,now() FROM bench_player WHERE n BETWEEN :base AND :base + 99;
SELECT id, owner, asset, balance, line_count, last_hash, allow_negative FROM ledger_account WHERE asset IN ('CARBON_POINT', 'CO2E_GRAMS', 'GROWTH') AND owner IN (SELECT 'player:' || id FROM bench_player WHERE n BETWEEN :base AND :base + 99 UNION ALL SELECT DISTINCT 'system:issuance:' || lpad(':shard', 2, '0') FROM bench_player WHERE n BETWEEN :base AND :base + 99) ORDER BY id FOR UPDATE;
WITH b AS (SELECT id, n, 'system:issuance:' || lpad(':shard', 2, '0') AS iss FROM bench_player WHERE n BETWEEN :base AND :base + 99), amounts(asset, amount) AS (VALUES ('CO2E_GRAMS', 600), ('CARBON_POINT', 75), ('GROWTH', 60)), deltas AS (SELECT 'player:' || b.id AS owner, a.asset, a.amount AS delta, 1 AS lines FROM b CROSS JOIN amounts a UNION ALL SELECT b.iss, a.asset, -sum(a.amount), count(*) FROM b CROSS JOIN amounts a GROUP BY b.iss, a.asset) UPDATE ledger_account la SET balance = la.balance + d.delta, line_count = la.line_count + d.lines, last_hash = md5(la.last_hash || ':r') || md5(':r' || la.last_hash) FROM deltas d WHERE la.owner = d.owner AND la.asset = d.asset;
WITH b AS (SELECT id, n, 'system:issuance:' || lpad(':shard', 2, '0') AS iss FROM bench_player WHERE n BETWEEN :base AND :base + 99), amounts(asset, amount) AS (VALUES ('CO2E_GRAMS', 600), ('CARBON_POINT', 75), ('GROWTH', 60)), postings AS (SELECT md5('t-:client_id-:r-' || b.n)::uuid AS tx, 'player:' || b.id AS owner, a.asset, a.amount, b.n FROM b CROSS JOIN amounts a UNION ALL SELECT md5('t-:client_id-:r-' || b.n)::uuid, b.iss, a.asset, -a.amount, b.n FROM b CROSS JOIN amounts a), numbered AS (SELECT p.tx, p.asset, p.amount, la.id AS account_id, la.line_count, la.balance, la.last_hash, row_number() OVER (PARTITION BY la.id ORDER BY p.n DESC) AS back FROM postings p JOIN ledger_account la ON la.owner = p.owner AND la.asset = p.asset) INSERT INTO "ledger_line" ("seq","asset","amount","balance_after","created_at","hash","account_id","transaction_id") SELECT line_count - back + 1, asset, amount, balance, now(), md5(last_hash || back) || md5(back || last_hash), account_id, tx FROM numbered;
COMMIT;
