-- P3.1: Количество детей, перешедших на удовлетворительный или благополучный уровень благополучия
-- children assessed crisis or unsatisfactory at entry and satisfactory or better at the latest assessment / children below satisfactory at entry with a later assessment.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
-- A child is counted by (case, child); levels in their order:
-- crisis < unsatisfactory < satisfactory < prosperous.
SELECT
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT "case", child FROM children
     WHERE active_in_period = TRUE
       AND level_entry IN ('crisis', 'unsatisfactory')
       AND level_latest IN ('satisfactory', 'prosperous'))) AS numerator,
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT "case", child FROM children
     WHERE active_in_period = TRUE
       AND level_entry IN ('crisis', 'unsatisfactory')
       AND level_latest IS NOT NULL)) AS denominator;
