-- P1_unsuccessful: Количество семей, случаи которых закрыты как неуспешные (договор досрочно расторгнут)
-- families whose contract was terminated (by the family or by the organisation) in the period / families with a case active in it.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND outcome IN ('terminated_by_family', 'terminated_by_org')) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active_in_period = TRUE) AS denominator;
