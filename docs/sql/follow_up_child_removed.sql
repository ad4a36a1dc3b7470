-- follow_up_child_removed: Семьи, в которых по данным мониторинга ребёнок изъят
-- monitored families closed in the period in which a child was removed / those monitored.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND follow_up_done = TRUE AND children_removed > 0) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND follow_up_done = TRUE) AS denominator;
