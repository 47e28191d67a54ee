/** Herald's mark: a wave in a rounded square. */
export function Logo({ size = 22 }: { readonly size?: number }) {
  return (
    <svg class="logo" width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <path
        d="M9 20c2-6 4-6 6 0s4 6 6 0 2-6 2-6"
        fill="none"
        stroke="var(--on-accent)"
        stroke-width="3"
        stroke-linecap="round"
      />
    </svg>
  );
}
