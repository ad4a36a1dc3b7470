-- P1: Количество семей с детьми, в которых трудная жизненная ситуация стабилизирована
-- families whose case closed in the period as stabilised / families with a case active in it.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND outcome = 'stabilized') AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active_in_period = TRUE) AS denominator;
