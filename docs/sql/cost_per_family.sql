-- cost_per_family: Стоимость социального результата на одну семью (расходы периода / семьи со стабилизированной ТЖС), ₽
-- expenses recorded in the period (rubles, DECIMAL(18,2)) / families stabilised in it.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COALESCE(SUM(amount), 0) FROM expenses) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND outcome = 'stabilized') AS denominator;
