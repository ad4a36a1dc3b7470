-- complex_support: Количество семей на комплексном сопровождении
-- families with a case active in the period.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active_in_period = TRUE) AS numerator,
  CAST(NULL AS BIGINT) AS denominator;
