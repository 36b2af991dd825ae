-- Mass downloads or external sharing: users who downloaded or synced at least min_downloads files
-- in one day, and every anonymous link or share with a guest or external user.
-- @param start_date date
-- @param end_date date
-- @param min_downloads integer
-- @param start_date date
-- @param end_date date
SELECT 'mass_download' AS kind, actor, dt AS day, count(*) AS events,
       count(DISTINCT file_name) AS files, CAST(NULL AS varchar) AS shared_with
FROM file_sharing
WHERE dt BETWEEN ? AND ?
  AND operation IN ('FileDownloaded', 'FileSyncDownloadedFull')
GROUP BY actor, dt
HAVING count(*) >= ?
UNION ALL
SELECT 'external_sharing' AS kind, actor, dt AS day, count(*) AS events,
       count(DISTINCT file_name) AS files, shared_with
FROM file_sharing
WHERE dt BETWEEN ? AND ?
  AND (operation IN ('AnonymousLinkCreated', 'AnonymousLinkUpdated')
       OR (operation IN ('SharingInvitationCreated', 'SharingSet', 'AddedToSecureLink')
           AND shared_with_type IN ('Guest', 'External')))
GROUP BY actor, dt, shared_with
ORDER BY kind, actor, day
