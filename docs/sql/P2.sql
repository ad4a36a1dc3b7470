-- P2: Количество кровных семей, сохранивших своих детей
-- families with an entry ЕФО none of whose children was removed / families active in the period with an entry ЕФО.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE active_in_period = TRUE AND efo_entry IS NOT NULL AND children_removed = 0) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE active_in_period = TRUE AND efo_entry IS NOT NULL) AS denominator;
