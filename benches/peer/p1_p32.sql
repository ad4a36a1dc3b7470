-- The SQL peer (issue 7): P1 and P3.2 of indicators/default.json for a period, from the
-- raw events in one SQLite table, with caseledger's cut semantics (SPEC §5, §6).
--   events(seq INTEGER PRIMARY KEY, id TEXT, type TEXT, occurred_on TEXT,
--          recorded_at TEXT, data TEXT)   -- data: the event's JSON payload
-- Parameters: ?1 first day F, ?2 last day T (YYYY-MM-DD), ?3 known_at stamp
-- (YYYY-MM-DDTHH:MM:SSZ; '9999-12-31T23:59:59Z' for none), ?4 highest seq in the cut.
-- Answers one row: P1 numerator, P1 denominator, P3.2 numerator, P3.2 denominator.
-- Every CTE is MATERIALIZED: SQLite 3.54 otherwise inlines them into each of the
-- four counts below and recomputes them (85 s instead of seconds at 1 M events).
WITH
cut AS MATERIALIZED (
  SELECT seq, id, type, occurred_on, data FROM events WHERE recorded_at <= ?3 AND seq <= ?4
),
-- Corrections inside the cut: a void hides its target; the latest amendment by seq
-- gives the target's payload and (when it names one) its day.
voided AS MATERIALIZED (
  SELECT json_extract(data, '$.target') AS target FROM cut WHERE type = 'event_voided'
),
amended AS MATERIALIZED (
  SELECT target, day, payload FROM (
    SELECT json_extract(data, '$.target') AS target,
           json_extract(data, '$.occurred_on') AS day,
           json_extract(data, '$.data') AS payload,
           ROW_NUMBER() OVER (PARTITION BY json_extract(data, '$.target') ORDER BY seq DESC) AS rn
    FROM cut WHERE type = 'event_amended')
  WHERE rn = 1
),
-- (Written as a union, not a join on the amendments, so that each side is a search
-- by an index: SQLite builds no index on a window-function subquery.)
eff AS MATERIALIZED (
  SELECT e.seq, e.type, e.occurred_on AS day, e.data FROM cut e
  WHERE e.type IN ('case_opened', 'case_closed', 'efo_scored')
    AND e.id NOT IN (SELECT target FROM voided)
    AND e.id NOT IN (SELECT target FROM amended)
  UNION ALL
  SELECT e.seq, e.type, COALESCE(a.day, e.occurred_on) AS day, a.payload AS data
  FROM amended a CROSS JOIN events e ON e.id = a.target
  WHERE e.recorded_at <= ?3 AND e.seq <= ?4
    AND e.type IN ('case_opened', 'case_closed', 'efo_scored')
    AND e.id NOT IN (SELECT target FROM voided)
),
-- Every fact counts only events with occurred_on <= T.
ev AS MATERIALIZED (
  SELECT seq, type, day, data, json_extract(data, '$.case') AS c FROM eff WHERE day <= ?2
),
opened AS MATERIALIZED (
  SELECT c, json_extract(data, '$.family') AS family FROM ev WHERE type = 'case_opened'
),
closing AS MATERIALIZED (
  SELECT c, closed_on, outcome FROM (
    SELECT c, day AS closed_on, json_extract(data, '$.outcome') AS outcome,
           ROW_NUMBER() OVER (PARTITION BY c ORDER BY day DESC, seq DESC) AS rn
    FROM ev WHERE type = 'case_closed')
  WHERE rn = 1
),
-- An ЕФО's weak sides: weak_total, else the sum of its domains.
efo AS MATERIALIZED (
  SELECT c, seq, day, json_extract(data, '$.stage') AS stage,
         COALESCE(json_extract(data, '$.weak_total'),
                  (SELECT SUM(value) FROM json_each(ev.data, '$.domains'))) AS weak
  FROM ev WHERE type = 'efo_scored'
),
ranked AS MATERIALIZED (
  SELECT c, stage, weak,
         ROW_NUMBER() OVER (PARTITION BY c, stage ORDER BY day ASC, seq ASC) AS first_rn,
         ROW_NUMBER() OVER (PARTITION BY c, stage ORDER BY day DESC, seq DESC) AS latest_rn
  FROM efo
),
picked AS MATERIALIZED (
  SELECT c,
         MAX(CASE WHEN stage = 'entry' AND first_rn = 1 THEN weak END) AS efo_entry,
         MAX(CASE WHEN stage = 'follow_up' AND latest_rn = 1 THEN weak END) AS efo_follow_up,
         MAX(CASE WHEN stage = 'exit' AND latest_rn = 1 THEN weak END) AS efo_exit
  FROM ranked GROUP BY c
),
cases AS MATERIALIZED (
  SELECT o.c, o.family, cl.closed_on, cl.outcome,
         (cl.closed_on IS NULL OR cl.closed_on >= ?1) AS active,
         (cl.closed_on IS NOT NULL AND cl.closed_on >= ?1) AS closed_in_period,
         p.efo_entry, COALESCE(p.efo_follow_up, p.efo_exit) AS efo_latest
  FROM opened o LEFT JOIN closing cl ON cl.c = o.c LEFT JOIN picked p ON p.c = o.c
)
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases WHERE closed_in_period AND outcome = 'stabilized'),
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active),
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active AND efo_entry - efo_latest >= 1),
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active AND efo_entry IS NOT NULL AND efo_latest IS NOT NULL);
