/** A job's title that names its resource: "Create VPS web-1" when the title itself does not ("Create VPS"). */
export function jobTitle(job: { title: string; target?: { name?: string } | null }): string {
  const name = job.target?.name;
  return name && !job.title.includes(name) ? `${job.title} ${name}` : job.title;
}
