-- reach: Количество семей, получивших услуги организации (охват)
-- families of the signals received in the period, together with the families of the cases active in it (each family once).
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM (
     SELECT family FROM signals WHERE received_in_period = TRUE
     UNION ALL
     SELECT family FROM cases WHERE active_in_period = TRUE)) AS numerator,
  CAST(NULL AS BIGINT) AS denominator;
