-- cost_per_child: Стоимость социального результата на одного ребёнка (расходы периода / дети в семьях со стабилизированной ТЖС), ₽
-- expenses recorded in the period / children of the cases stabilised in it.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COALESCE(SUM(amount), 0) FROM expenses) AS numerator,
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT "case", child FROM children
     WHERE closed_in_period = TRUE AND outcome = 'stabilized')) AS denominator;
