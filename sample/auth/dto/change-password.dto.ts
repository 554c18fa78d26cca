import { IsGivenPassword, IsNewPassword } from '../../common/validation.js';

export class ChangePasswordDto {
  @IsGivenPassword()
  currentPassword: string;

  @IsNewPassword()
  newPassword: string;
}
