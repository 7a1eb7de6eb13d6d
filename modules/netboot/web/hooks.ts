import { useQueries, useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { api, call } from '@slipway/web';
import type { Image } from './api';

export const imagesKey = ['netboot', 'images'] as const;

/** The image list with the free disk space. */
export function useImages() {
  return useQuery({ queryKey: imagesKey, queryFn: () => call(api.GET('/api/v1/netboot/images')) });
}

/** One image with its versions. */
export function useImageVersions(imageId: string | null | undefined) {
  return useQuery({
    enabled: !!imageId,
    queryKey: ['netboot', 'images', imageId],
    queryFn: () => call(api.GET('/api/v1/netboot/images/{id}', { params: { path: { id: imageId! } } })),
  });
}

/** Version id → image name and version number, for every image (images are few; each detail lists its versions). */
export function useVersionLabels(images: Image[] | undefined) {
  const details = useQueries({
    queries: (images ?? []).map((i) => ({
      queryKey: ['netboot', 'images', i.id],
      queryFn: () => call(api.GET('/api/v1/netboot/images/{id}', { params: { path: { id: i.id } } })),
    })),
  });
  const stamp = details.map((d) => d.dataUpdatedAt).join(',');
  return useMemo(() => {
    const map = new Map<string, { image: string; imageId: string; number: number }>();
    for (const d of details) for (const v of d.data?.versions ?? []) map.set(v.id, { image: d.data!.image.name, imageId: d.data!.image.id, number: v.number });
    return map;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stamp]);
}
